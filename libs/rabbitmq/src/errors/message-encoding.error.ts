import { WarrenError } from './warren.error';

/**
 * A message that cannot be put on the wire: a property or header value AMQP has no
 * encoding for (a BigInt, a Symbol, a function, NaN, a Date), a number out of its
 * field's range, a name longer than 255 bytes, or a body that is not a Buffer. It is
 * rejected before anything is written, so no other message is affected.
 */
export class MessageEncodingError extends WarrenError {
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    /** The offending field, e.g. `headers.tenant`, `priority`, `routingKey`, `body`. */
    readonly field: string,
    /** What was found there, e.g. `bigint`, `number NaN`, `string of 300 bytes`. */
    readonly valueType: string,
    problem: string,
    cause?: unknown,
  ) {
    super(
      'MESSAGE_ENCODING',
      `Cannot publish to exchange '${clip(exchange)}' with routing key '${clip(routingKey)}': ${field} is ${valueType}; ${problem}. ` +
        `The message was not sent; fix the value and publish again.`,
      { cause },
    );
  }

  /** The serializer threw on this payload (a BigInt or a cycle for JSON, for example). */
  static fromSerializer(exchange: string, routingKey: string, payload: unknown, cause: unknown): MessageEncodingError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new MessageEncodingError(
      exchange,
      routingKey,
      'body',
      `a ${typeof payload} the serializer could not encode`,
      `the serializer threw: ${reason}`,
      cause,
    );
  }
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
