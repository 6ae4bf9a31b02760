import { WarrenError } from './warren.error';

/** `cancelConsumer()` or `resumeConsumer()` named a handler this connection does not have. */
export class UnknownHandlerError extends WarrenError {
  constructor(
    /** The name asked for. */
    readonly handler: string,
    /** The connection asked. */
    readonly connection: string,
    /** The handler names the connection has. */
    readonly known: readonly string[],
  ) {
    super(
      'UNKNOWN_HANDLER',
      `No handler named '${handler}' on connection '${connection}' (known: ${known.join(', ') || 'none'}). ` +
        `Use the handler's name: 'ClassName.methodName', or the name given in its decorator.`,
    );
  }
}
