import { WarrenError } from './warren.error';

/** The dedup store operation that failed. */
export type DedupStoreOperation = 'claim' | 'complete' | 'release';

/**
 * The deduplication store (e.g. Redis) could not be reached or failed a command.
 * The message was not processed (or its outcome not recorded); it waits and is retried
 * rather than being processed without the duplicate check. `cause` holds the store's error.
 */
export class DedupStoreUnavailableError extends WarrenError {
  constructor(
    /** Which store call failed. */
    readonly operation: DedupStoreOperation,
    /** The store key (with any store prefix) the call was about. */
    readonly key: string,
    cause: unknown,
  ) {
    super(
      'DEDUP_STORE_UNAVAILABLE',
      `The dedup store could not be reached (${operation} of key '${key}'` +
        (hasMessage(cause) ? `: ${cause.message}` : '') +
        `). The message will wait and be retried; check that the store (e.g. Redis) is up and reachable.`,
      { cause },
    );
  }
}

/** Duck-typed: errors from Node internals may come from another realm (e.g. under Jest) and fail `instanceof Error`. */
function hasMessage(value: unknown): value is { message: string } {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string';
}
