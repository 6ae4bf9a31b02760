import { WarrenError } from './warren.error';

/** A consumer was added at run time to a connection that was never started (`init()` not called yet). */
export class ConnectionNotStartedError extends WarrenError {
  constructor(
    /** The connection's name. */
    readonly connection: string,
    /** What was asked, e.g. `subscribe()`. */
    readonly operation: string,
  ) {
    super(
      'CONNECTION_NOT_STARTED',
      `RabbitMQ connection '${connection}' has not been started, so ${operation} cannot consume. ` +
        `Call it once the application has started (from onApplicationBootstrap or later), or after init() on a connection you created yourself.`,
    );
  }
}
