/** The same delay before every retry. */
export interface FixedBackoffOptions {
  type: 'fixed';
  /** ms to wait before each retry. Must be >= 0 and at most 4294967295 (the broker's largest TTL). */
  delay: number;
}

/** Delays that grow by `multiplier` after each failed delivery, optionally capped and jittered. */
export interface ExponentialBackoffOptions {
  type: 'exponential';
  /** ms to wait before the first retry. */
  initialDelay: number;
  /**
   * Factor applied to the delay after each failed delivery: the delay after delivery n is
   * `initialDelay * multiplier^(n-1)`. Must be >= 1.
   * @default 2
   */
  multiplier?: number;
  /**
   * Upper bound of any delay in ms (jittered delays included).
   * @default none (only the broker's largest TTL, 4294967295 ms, bounds it)
   */
  maxDelay?: number;
  /**
   * Spread of delays as a fraction of the base delay (0..1), so consumers that failed
   * together do not retry together. Each wait queue has a fixed TTL, so jitter is
   * quantized: every base delay d becomes three levels `d*(1-jitter)`, `d` and
   * `d*(1+jitter)` (clamped to `maxDelay`), one picked at random per retry.
   * @default 0
   */
  jitter?: number;
}

/** An explicit delay per retry: `delays[n-1]` after delivery n; the last entry repeats. */
export interface ListBackoffOptions {
  type: 'list';
  /** ms before the 1st, 2nd, ... retry. Must not be empty. */
  delays: number[];
}

/** How long a failed message waits before it is delivered again. All delays are in ms and rounded to whole ms. */
export type BackoffOptions = FixedBackoffOptions | ExponentialBackoffOptions | ListBackoffOptions;

/** An error class `retryOn` can list. */
export type ErrorClass = new (...args: any[]) => Error;

/**
 * Delayed retry of a failed message. A retry republishes the message to a wait queue
 * whose TTL is the delay; when it expires the broker dead-letters it back to the
 * handler's queue. A `NonRetryableError`, or a body that cannot be deserialized,
 * is never retried.
 */
export interface RetryOptions {
  /**
   * Total deliveries of a message, the first one included: 3 means the first try and
   * at most two retries. 1 disables delayed retry. Must be an integer >= 1.
   * @default 3
   */
  maxAttempts?: number;
  /**
   * Delays between deliveries. Replaced as a whole when given (not merged field by field).
   * @default { type: 'exponential', initialDelay: 1000, multiplier: 2, maxDelay: 60000, jitter: 0 }
   */
  backoff?: BackoffOptions;
  /**
   * Decides whether an error is worth retrying. Combined with `retryOn` (both must agree).
   * If it throws, the error counts as retryable (`maxAttempts` still bounds the retries).
   * @default every error is retryable (except NonRetryableError and deserialization errors)
   */
  retryable?: (error: unknown) => boolean;
  /**
   * If given, only errors that are instances of one of these classes are retried.
   * @default every error class
   */
  retryOn?: ErrorClass[];
  /**
   * In-process retries of a failed delivery before it is handed to a delayed retry.
   * They do not count as deliveries (`maxAttempts`): every delivery gets them.
   * Must be an integer >= 0.
   * @default 0
   */
  immediateRetries?: number;
}

/** RetryOptions with every default applied. */
export interface ResolvedRetryOptions {
  maxAttempts: number;
  backoff: BackoffOptions;
  retryable?: (error: unknown) => boolean;
  retryOn?: ErrorClass[];
  immediateRetries: number;
}
