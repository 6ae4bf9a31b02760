/** The broker used when AMQP_URL is not set. */
export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

/**
 * Parses an AMQP URL and refuses any host outside the loopback range: the
 * suite floods the broker, and may only ever do that to this machine.
 */
export function assertLoopbackUrl(raw: string | undefined): URL {
  if (!raw) throw new Error('no broker URL given');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`AMQP_URL is not a valid URL: ${maskUrl(raw)}`);
  }
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') throw new Error(`AMQP_URL must use amqp:// or amqps://, got ${url.protocol}`);
  if (!isLoopbackHost(url.hostname)) {
    throw new Error(`refusing to benchmark a broker at "${url.hostname}": only loopback hosts (localhost, 127.0.0.0/8, ::1) are allowed`);
  }
  return url;
}

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4) return v4.slice(1).every((octet) => Number(octet) <= 255);
  const mapped = /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.exec(host);
  return mapped !== null;
}

/** The URL without its password, for logs and reports. */
export function maskUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return raw.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  }
}
