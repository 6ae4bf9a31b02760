import { WarrenError } from './warren.error';

/** An RPC reply arrived but its body could not be read. */
export class RpcReplyInvalidError extends WarrenError {
  constructor(
    readonly routingKey: string,
    cause: unknown,
  ) {
    super(
      'RPC_REPLY_INVALID',
      `The reply to the request with routing key '${routingKey}' could not be deserialized` +
        (cause instanceof Error ? `: ${cause.message}` : '') +
        '. The server sent a body that is not valid JSON; check its serializer.',
      { cause },
    );
  }
}
