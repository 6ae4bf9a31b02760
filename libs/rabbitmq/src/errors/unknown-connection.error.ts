import { WarrenError } from './warren.error';

/** `AmqpConnectionRegistry.get()` (or a `connection` option) named a connection the application does not have. */
export class UnknownConnectionError extends WarrenError {
  constructor(
    /** The name asked for. */
    readonly connection: string,
    /** The names of the connections the application has. */
    readonly known: readonly string[],
  ) {
    super(
      'UNKNOWN_CONNECTION',
      `No RabbitMQ connection named '${connection}' (known: ${known.join(', ') || 'none'}). ` +
        `Add RabbitMQModule.forRoot({ name: '${connection}', uri }) to the application.`,
    );
  }
}
