import { errorText } from './error-text';
import { WarrenError } from './warren.error';

/** A message body could not be deserialized; the message is dead-lettered, never retried. */
export class MessageDeserializationError extends WarrenError {
  constructor(
    readonly queue: string,
    readonly contentType: string | undefined,
    cause: unknown,
  ) {
    super(
      'MESSAGE_DESERIALIZATION',
      `Message on queue '${queue}' has a body that is not valid ${contentType ?? 'JSON'}` +
        (cause === undefined ? '' : ` (${errorText(cause).slice(0, 500)})`) +
        `. It is dead-lettered without retry; fix the publisher, or set allowNonJsonMessages to receive raw Buffers.`,
      { cause },
    );
  }
}
