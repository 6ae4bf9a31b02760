import { WarrenError } from './warren.error';
import { errorText } from './error-text';

/**
 * An RPC handler returned a value its serializer could not encode (a BigInt, a circular
 * structure, or a serializer that throws). The handler did run; the caller receives this
 * error at once (as an RpcRemoteError whose `remoteCode` is `RPC_REPLY_SERIALIZATION`)
 * instead of waiting for its timeout.
 */
export class RpcReplySerializationError extends WarrenError {
  /** The stable code of this error. */
  static readonly CODE = 'RPC_REPLY_SERIALIZATION';

  constructor(
    /** The RPC handler whose reply could not be serialized (`Class.method`). */
    readonly handler: string,
    cause: unknown,
  ) {
    super(
      RpcReplySerializationError.CODE,
      `The reply of RPC handler ${handler} could not be serialized (${errorText(cause)}). ` +
        'Return data its serializer can encode (for JSON: no BigInt, no circular references), or give the handler a serializer that can.',
      { cause },
    );
  }
}
