import type { BackoffOptions } from '../options/retry-options.interface';

/** The longest time RabbitMQ can hold a message in a TTL queue: 2^32-1 ms (about 49.7 days). */
export const MAX_BROKER_DELAY_MS = 4294967295;

/** Every delay level becomes a wait queue on the broker, so a policy may declare at most this many. */
export const MAX_DELAY_LEVELS = 100;

/** Number of quantized levels each jittered base delay is spread over (low, base, high). */
export const JITTER_STEPS = 3;

/** The delays a policy can produce, and the first one RabbitMQ could not hold (if any). */
export interface DelaySchedule {
  /** Sorted, distinct, whole-ms delays. */
  levels: number[];
  /** Set when a delay is longer than `MAX_BROKER_DELAY_MS`: the delivery it follows, and the delay. */
  tooLong?: { afterDelivery: number; delay: number };
}

/**
 * The base delay (before jitter and rounding) of the retry that follows failed delivery
 * `n` (1-based). Assumes valid options (see `validateRetryOptions`).
 */
export function baseDelay(backoff: BackoffOptions, n: number): number {
  switch (backoff.type) {
    case 'fixed':
      return backoff.delay;
    case 'list':
      return backoff.delays[Math.min(n, backoff.delays.length) - 1];
    case 'exponential': {
      const raw = backoff.initialDelay * Math.pow(backoff.multiplier ?? 2, n - 1);
      return Math.min(raw, backoff.maxDelay ?? Infinity);
    }
  }
}

/**
 * The whole-ms delays a base delay can turn into: itself alone without jitter, else
 * `JITTER_STEPS` levels evenly spread over `base * (1 ± jitter)`, clamped to `maxDelay`.
 * Not deduplicated, so a random pick among them is uniform over the steps.
 */
export function jitteredDelays(backoff: BackoffOptions, base: number): number[] {
  if (backoff.type !== 'exponential' || !backoff.jitter) return [Math.round(base)];
  const jitter = backoff.jitter;
  const max = backoff.maxDelay ?? Infinity;
  const steps: number[] = [];
  for (let i = 0; i < JITTER_STEPS; i++) {
    const factor = 1 - jitter + (2 * jitter * i) / (JITTER_STEPS - 1);
    steps.push(Math.round(Math.min(base * factor, max)));
  }
  return steps;
}

/**
 * Every delay the retries after deliveries 1..`retries` can use. Stops early once the base
 * delay stops changing (fixed, end of a list, exponential at its cap), once a delay is
 * longer than the broker can hold, or once more than `stopAfter` levels were found, so
 * it stays cheap for any `maxAttempts`.
 */
export function delaySchedule(backoff: BackoffOptions, retries: number, stopAfter = Infinity): DelaySchedule {
  const levels = new Set<number>();
  let previousBase: number | undefined;
  for (let n = 1; n <= retries; n++) {
    const base = baseDelay(backoff, n);
    // An exponential base that stopped growing (cap reached, multiplier 1, or 0) never changes again.
    if (backoff.type === 'exponential' && base === previousBase) break;
    for (const delay of jitteredDelays(backoff, base)) {
      if (!(delay <= MAX_BROKER_DELAY_MS)) {
        return { levels: sorted(levels), tooLong: { afterDelivery: n, delay } };
      }
      levels.add(delay);
    }
    if (levels.size > stopAfter) break;
    if (backoff.type === 'fixed' || (backoff.type === 'list' && n >= backoff.delays.length)) break;
    previousBase = base;
  }
  return { levels: sorted(levels) };
}

function sorted(levels: Set<number>): number[] {
  return [...levels].sort((a, b) => a - b);
}
