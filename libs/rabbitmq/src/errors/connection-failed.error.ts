import { WarrenError } from './warren.error';

/** Why a connection could not be made at start-up. */
export type ConnectionFailureReason = 'timeout' | 'access-refused' | 'unreachable' | 'tls';

/** The first connection could not be made within `connectionInitOptions.timeout`. */
export class ConnectionFailedError extends WarrenError {
  constructor(
    readonly connection: string,
    /** The broker URLs tried, password masked. */
    readonly urls: string[],
    readonly reason: ConnectionFailureReason,
    readonly timeoutMs: number,
    cause?: unknown,
  ) {
    super(
      reason === 'access-refused' ? 'ACCESS_REFUSED' : reason === 'tls' ? 'TLS_FAILED' : 'CONNECTION_FAILED',
      ConnectionFailedError.describe(connection, urls, reason, timeoutMs, cause),
      { cause },
    );
  }

  private static describe(connection: string, urls: string[], reason: ConnectionFailureReason, timeoutMs: number, cause: unknown): string {
    const where = `RabbitMQ connection '${connection}' (${urls.join(', ')})`;
    const detail = cause instanceof Error ? ` Last error: ${cause.message}` : '';
    if (reason === 'tls') {
      // OpenSSL's text ("...:ssl3_read_bytes:sslv3 alert certificate expired:../deps/...") names the alert the broker sent.
      const alert = cause instanceof Error ? /:(?:sslv3|tlsv1\d*) alert ([^:]+):/.exec(cause.message)?.[1] : undefined;
      const why = alert ? ` The broker answered with TLS alert '${alert}'.` : cause instanceof Error ? ` Reason: ${cause.message.trim()}.` : '';
      return (
        `${where} failed in the TLS handshake, so it was not retried.${why} ` +
        `Check socketOptions: 'ca' must hold the CA that signed the broker's certificate, 'cert' and 'key' a client certificate ` +
        `the broker trusts and that has not expired, and 'servername' the name in the broker's certificate; and that the URL's port serves amqps.`
      );
    }
    if (reason === 'access-refused') {
      return `${where} was refused: wrong username or password, or no access to the vhost. Check the credentials in the URL and the user's permissions (rabbitmqctl list_permissions -p <vhost>).${detail}`;
    }
    return (
      `${where} could not connect within ${timeoutMs} ms. Is the broker running and reachable? ` +
      `Start one (e.g. 'rabbitmq-server -detached' or 'docker run -p 5672:5672 rabbitmq:3'), check the URL, ` +
      `or set connectionInitOptions: { wait: false } to start without it.${detail}`
    );
  }
}
