import { WarrenError } from './warren.error';

/** A body larger than `maxMessageSize`. */
export class MessageTooLargeError extends WarrenError {
  constructor(
    readonly size: number,
    readonly maxSize: number,
    where: string,
  ) {
    super(
      'MESSAGE_TOO_LARGE',
      `Message body of ${size} bytes ${where} exceeds maxMessageSize (${maxSize} bytes). ` +
        `Store large payloads elsewhere and send a reference, or raise maxMessageSize.`,
    );
  }
}
