import { WarrenError } from './warren.error';

/** Why a connection could not be made at start-up. */
export type ConnectionFailureReason = 'timeout' | 'access-refused' | 'unreachable';

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
      reason === 'access-refused' ? 'ACCESS_REFUSED' : 'CONNECTION_FAILED',
      ConnectionFailedError.describe(connection, urls, reason, timeoutMs, cause),
      { cause },
    );
  }

  private static describe(
    connection: string,
    urls: string[],
    reason: ConnectionFailureReason,
    timeoutMs: number,
    cause: unknown,
  ): string {
    const where = `RabbitMQ connection '${connection}' (${urls.join(', ')})`;
    const detail = cause instanceof Error ? ` Last error: ${cause.message}` : '';
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
