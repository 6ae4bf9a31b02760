import type { ResolvedRetryOptions, RetryOptions } from '../options/retry-options.interface';

/** The defaults of every retry option; the single place they are defined. */
export const DEFAULT_RETRY_OPTIONS: Readonly<ResolvedRetryOptions> = Object.freeze({
  maxAttempts: 3,
  backoff: Object.freeze({ type: 'exponential', initialDelay: 1000, multiplier: 2, maxDelay: 60000, jitter: 0 } as const),
  immediateRetries: 0,
});

/**
 * Merges a handler's retry options over the module's defaults over `DEFAULT_RETRY_OPTIONS`,
 * field by field with `??` (so an explicit 0 is kept). `backoff` is replaced as a whole:
 * a handler giving `{ type: 'fixed', delay: 500 }` does not inherit the default `maxDelay`.
 */
export function resolveRetryOptions(options: RetryOptions | undefined, moduleDefaults?: RetryOptions): ResolvedRetryOptions {
  const resolved: ResolvedRetryOptions = {
    maxAttempts: options?.maxAttempts ?? moduleDefaults?.maxAttempts ?? DEFAULT_RETRY_OPTIONS.maxAttempts,
    backoff: options?.backoff ?? moduleDefaults?.backoff ?? DEFAULT_RETRY_OPTIONS.backoff,
    immediateRetries: options?.immediateRetries ?? moduleDefaults?.immediateRetries ?? DEFAULT_RETRY_OPTIONS.immediateRetries,
  };
  const retryable = options?.retryable ?? moduleDefaults?.retryable;
  if (retryable !== undefined) resolved.retryable = retryable;
  const retryOn = options?.retryOn ?? moduleDefaults?.retryOn;
  if (retryOn !== undefined) resolved.retryOn = retryOn;
  return resolved;
}
