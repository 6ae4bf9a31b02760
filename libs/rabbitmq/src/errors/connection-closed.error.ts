import { WarrenError } from './warren.error';

/** The connection or channel closed before an operation finished; it may or may not have taken effect. */
export class ConnectionClosedError extends WarrenError {
  constructor(
    readonly connection: string,
    what: string,
  ) {
    super('CONNECTION_CLOSED', `RabbitMQ connection '${connection}' closed ${what}.`);
  }
}
