import { InvalidOptionsError } from '../errors/invalid-options.error';
import { isPermanent } from '../errors/permanent-failure';
import { baseDelay, delaySchedule, jitteredDelays } from './backoff-schedule';
import { resolveRetryOptions } from './resolve-retry-options';
import type { BackoffOptions, ErrorClass, RetryOptions } from '../options/retry-options.interface';
import { validateRetryOptions } from './validate-retry-options';

/** Why a failed delivery is not retried. */
export type NoRetryReason =
  /** The delivery was the last one `maxAttempts` allows. */
  | 'attempts-exhausted'
  /** A `NonRetryableError` (or an error carrying its name or code). */
  | 'non-retryable-error'
  /** The body could not be deserialized; a retry would fail the same way. */
  | 'deserialization-error'
  /** `retryOn` is set and the error is none of its classes. */
  | 'not-in-retry-on'
  /** The `retryable` predicate returned false. */
  | 'retryable-returned-false';

/**
 * Decides whether a failed delivery is retried and how long it waits. Pure: it knows
 * nothing of the broker. Each delay level it can return (`delayLevels()`) is meant to
 * become one wait queue with a queue-level TTL, so messages never block each other.
 *
 * @example
 * const policy = new RetryPolicy({ maxAttempts: 5, backoff: { type: 'exponential', initialDelay: 1000, jitter: 0.2 } });
 * if (policy.shouldRetry(error, attempt)) republishToWaitQueue(policy.delayFor(attempt));
 */
export class RetryPolicy {
  /** Total deliveries including the first. */
  readonly maxAttempts: number;
  /** In-process retries of each delivery before a delayed retry. */
  readonly immediateRetries: number;
  /** The resolved backoff. */
  readonly backoff: BackoffOptions;
  private readonly retryable?: (error: unknown) => boolean;
  private readonly retryOn?: readonly ErrorClass[];
  private readonly levels: readonly number[];

  /**
   * @param options the handler's retry options, merged over `moduleDefaults` and the defaults.
   * @throws InvalidOptionsError listing every problem when the merged options are invalid.
   */
  constructor(options?: RetryOptions, moduleDefaults?: RetryOptions) {
    const resolved = resolveRetryOptions(options, moduleDefaults);
    const problems = validateRetryOptions(resolved, 'RetryPolicy');
    if (problems.length > 0) throw new InvalidOptionsError(problems);
    this.maxAttempts = resolved.maxAttempts;
    this.immediateRetries = resolved.immediateRetries;
    this.backoff = resolved.backoff;
    this.retryable = resolved.retryable;
    this.retryOn = resolved.retryOn ? [...resolved.retryOn] : undefined;
    this.levels = Object.freeze(delaySchedule(this.backoff, this.maxAttempts - 1).levels);
  }

  /**
   * True for a `NonRetryableError`, also when it crossed a boundary and lost its
   * prototype (recognised by `name` or `code`).
   */
  static isNonRetryable(error: unknown): boolean {
    return isPermanent(error, 'non-retryable');
  }

  /** True for an error flagged as a deserialization failure (code `MESSAGE_DESERIALIZATION`). */
  static isDeserializationError(error: unknown): boolean {
    return isPermanent(error, 'deserialization');
  }

  /**
   * Why the failure of delivery `attempt` (1-based) is not retried, or undefined when
   * it is. Never throws: a `retryable` predicate that throws counts as "retry".
   */
  noRetryReason(error: unknown, attempt: number): NoRetryReason | undefined {
    if (!(attempt < this.maxAttempts)) return 'attempts-exhausted';
    return this.errorNotRetryableReason(error);
  }

  /** Whether the failure of delivery `attempt` (1-based, the delivery that just failed) is retried. */
  shouldRetry(error: unknown, attempt: number): boolean {
    return this.noRetryReason(error, attempt) === undefined;
  }

  /**
   * Whether a delivery is run again in-process, after `failures` in-process runs of it
   * (1-based) have failed. Independent of `maxAttempts`: every delivery gets
   * `immediateRetries` of them.
   */
  shouldRetryImmediately(error: unknown, failures: number): boolean {
    return failures <= this.immediateRetries && this.errorNotRetryableReason(error) === undefined;
  }

  /**
   * The delay in ms before the retry that follows failed delivery `attempt` (1-based):
   * a member of `delayLevels()` whenever the policy retries at all (attempts past the last
   * retry count as the last retry). With jitter, `random` (0 <= r < 1) picks one of the quantized levels.
   */
  delayFor(attempt: number, random: () => number = Math.random): number {
    const lastRetry = Math.max(1, this.maxAttempts - 1);
    const n = Number.isNaN(attempt) ? 1 : Math.min(Math.max(Math.floor(attempt), 1), lastRetry);
    const choices = jitteredDelays(this.backoff, baseDelay(this.backoff, n));
    if (choices.length === 1) return choices[0];
    const r = random();
    const index = Number.isFinite(r) ? Math.min(Math.max(Math.floor(r * choices.length), 0), choices.length - 1) : 0;
    return choices[index];
  }

  /**
   * Sorted, distinct delays (ms) this policy can return: one wait queue per level.
   * Empty when `maxAttempts` is 1 (no retry).
   */
  delayLevels(): number[] {
    return [...this.levels];
  }

  private errorNotRetryableReason(error: unknown): NoRetryReason | undefined {
    if (RetryPolicy.isNonRetryable(error)) return 'non-retryable-error';
    if (RetryPolicy.isDeserializationError(error)) return 'deserialization-error';
    if (this.retryOn && !this.retryOn.some((errorClass) => error instanceof errorClass)) return 'not-in-retry-on';
    if (this.retryable) {
      try {
        if (!this.retryable(error)) return 'retryable-returned-false';
      } catch {
        // A broken predicate must not break the consumer's ack path; maxAttempts still bounds the retries.
      }
    }
    return undefined;
  }
}
