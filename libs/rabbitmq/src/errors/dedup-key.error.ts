import { NonRetryableError } from './non-retryable.error';
import { errorText } from './error-text';

/**
 * A handler's dedup `key()` threw on a message (e.g. `m => m.payload.orderId` on a `null`
 * body). It would throw again on every delivery, so the message skips any retries and is
 * dead-lettered (or, for an RPC request, the caller gets this error) with it as the reason.
 * It is a NonRetryableError: `code` is `NON_RETRYABLE`; `cause` holds what `key()` threw.
 */
export class DedupKeyError extends NonRetryableError {
  constructor(
    /** The handler whose key function threw (`Class.method`). */
    readonly handler: string,
    cause: unknown,
  ) {
    super(
      `The dedup key function of ${handler} threw on this message (${errorText(cause)}). ` +
        'The message is dead-lettered without retry; make key() handle such messages (return undefined to process one without the duplicate check), or fix the publisher.',
      { cause },
    );
  }
}
