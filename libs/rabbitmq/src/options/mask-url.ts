/**
 * Replaces the password of a URL with `***`, so URLs can be logged and put in errors.
 * Everything between the user name and the last `@` goes, so a password with a raw `:`, `/`
 * or `@` (invalid, but typed by people) is hidden too, whatever the scheme.
 */
export function maskUrl(url: string): string {
  const start = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0].length ?? 0;
  const at = url.lastIndexOf('@');
  const colon = url.indexOf(':', start);
  if (at < start || colon < 0 || colon > at) return url;
  return `${url.slice(0, colon)}:***${url.slice(at)}`;
}
