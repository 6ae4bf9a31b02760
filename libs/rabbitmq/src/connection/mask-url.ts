/** Replaces the password of an AMQP URL with `***`, so URLs can be logged and put in errors. */
export function maskUrl(url: string): string {
  return url.replace(/^(amqps?:\/\/)([^:@/]*):([^@/]*)@/i, '$1$2:***@');
}
