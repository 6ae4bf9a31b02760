import { ConnectionClosedError } from './connection-closed.error';

/**
 * `AmqpConnection.managedConnection` was read before `init()` started the connection (or after it
 * closed). golevelup's name for this case; a ConnectionClosedError too, so both `instanceof`
 * checks hold. Call `init()` first (the module does it at start-up).
 */
export class ConnectionNotAvailableError extends ConnectionClosedError {
  constructor(connection: string) {
    super(connection, 'or was never started: init() has not run, so there is no connection manager yet', 'CONNECTION_NOT_AVAILABLE');
  }
}
