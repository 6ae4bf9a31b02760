import { WarrenError } from './warren.error';

/** The connection or channel closed before an operation finished; it may or may not have taken effect. */
export class ConnectionClosedError extends WarrenError {
  constructor(
    readonly connection: string,
    what: string,
    /** For subclasses that name the case more precisely. */
    code = 'CONNECTION_CLOSED',
  ) {
    super(code, `RabbitMQ connection '${connection}' closed ${what}.`);
  }
}
