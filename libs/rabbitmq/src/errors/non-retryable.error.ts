import { WarrenError } from './warren.error';

/**
 * Throw it from a handler when retrying cannot help (invalid input, a business rule
 * that will fail again): the message skips any remaining retries and goes straight
 * to the dead-letter queue (or the handler's error behavior).
 *
 * Retry policies also recognise it by `name === 'NonRetryableError'` or
 * `code === 'NON_RETRYABLE'`, so an error that lost its prototype crossing a boundary
 * (another copy of the library, a serialized RPC error) still counts.
 *
 * @example
 * if (!order.customerId) throw new NonRetryableError('order has no customerId');
 */
export class NonRetryableError extends WarrenError {
  /** The stable code of this error. */
  static readonly CODE = 'NON_RETRYABLE';

  constructor(message: string, options?: { cause?: unknown }) {
    super(NonRetryableError.CODE, message, options);
  }
}
