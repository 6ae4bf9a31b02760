import { DEFAULT_RETRY_OPTIONS } from './resolve-retry-options';
import { delaySchedule, MAX_BROKER_DELAY_MS, MAX_DELAY_LEVELS } from './backoff-schedule';
import type { BackoffOptions, RetryOptions } from '../options/retry-options.interface';

const BACKOFF_TYPES = ['fixed', 'exponential', 'list'];

/**
 * Checks retry options and returns every problem as a human-readable line (empty when
 * they are fine), each prefixed with `path` (e.g. the handler name `OrdersService.handle`)
 * and naming the field as `retry.<field>`. Fields left out are not checked; pass the
 * resolved options (`resolveRetryOptions(handler, moduleDefaults)`) to also check how
 * `maxAttempts` and `backoff` combine (longest delay, number of wait queues).
 */
export function validateRetryOptions(options: RetryOptions | undefined, path: string): string[] {
  const problems: string[] = [];
  const report = (message: string): void => {
    problems.push(`${path}: retry${message}`);
  };
  if (options === undefined) return problems;
  if (!isObject(options)) {
    report(` must be an object (got ${describe(options)})`);
    return problems;
  }

  const { maxAttempts, immediateRetries, retryable, retryOn, backoff } = options;
  if (maxAttempts !== undefined && !(Number.isInteger(maxAttempts) && maxAttempts >= 1)) {
    report(`.maxAttempts must be an integer >= 1 (got ${describe(maxAttempts)})`);
  }
  if (immediateRetries !== undefined && !(Number.isInteger(immediateRetries) && immediateRetries >= 0)) {
    report(`.immediateRetries must be an integer >= 0 (got ${describe(immediateRetries)})`);
  }
  if (retryable !== undefined && typeof retryable !== 'function') {
    report(`.retryable must be a function (error) => boolean (got ${describe(retryable)})`);
  }
  if (retryOn !== undefined) {
    if (!Array.isArray(retryOn)) {
      report(`.retryOn must be an array of error classes (got ${describe(retryOn)})`);
    } else if (retryOn.length === 0) {
      report(`.retryOn is empty, so no error would ever be retried; leave it out, or set maxAttempts: 1 to disable retries`);
    } else {
      retryOn.forEach((errorClass, i) => {
        if (typeof errorClass !== 'function') {
          report(`.retryOn[${i}] must be an error class (got ${describe(errorClass)})`);
        }
      });
    }
  }

  const backoffValid = backoff === undefined || validateBackoff(backoff, report);
  if (problems.length === 0 && backoffValid) {
    checkSchedule(backoff ?? DEFAULT_RETRY_OPTIONS.backoff, maxAttempts ?? DEFAULT_RETRY_OPTIONS.maxAttempts, report);
  }
  return problems;
}

/** Reports problems of a backoff object; true when it has none. */
function validateBackoff(backoff: unknown, report: (message: string) => void): boolean {
  let valid = true;
  const fail = (message: string): void => {
    valid = false;
    report(`.backoff${message}`);
  };
  if (!isObject(backoff)) {
    fail(` must be an object such as { type: 'exponential', initialDelay: 1000 } (got ${describe(backoff)})`);
    return false;
  }
  const b = backoff as Record<string, unknown>;
  switch (b.type) {
    case 'fixed':
      checkDelay(b.delay, '.delay', fail);
      break;
    case 'exponential':
      checkDelay(b.initialDelay, '.initialDelay', fail);
      if (b.multiplier !== undefined && !(typeof b.multiplier === 'number' && Number.isFinite(b.multiplier) && b.multiplier >= 1)) {
        fail(`.multiplier must be a finite number >= 1 (got ${describe(b.multiplier)})`);
      }
      if (b.maxDelay !== undefined && checkDelay(b.maxDelay, '.maxDelay', fail)) {
        if (isDelay(b.maxDelay) && isDelay(b.initialDelay) && b.maxDelay < b.initialDelay) {
          fail(`.maxDelay (${b.maxDelay} ms) must be >= initialDelay (${b.initialDelay} ms)`);
        }
      }
      if (b.jitter !== undefined && !(typeof b.jitter === 'number' && b.jitter >= 0 && b.jitter <= 1)) {
        fail(`.jitter must be a fraction between 0 and 1 (got ${describe(b.jitter)})`);
      }
      break;
    case 'list':
      if (!Array.isArray(b.delays)) {
        fail(`.delays must be an array of delays in ms (got ${describe(b.delays)})`);
      } else if (b.delays.length === 0) {
        fail(`.delays must not be empty: give at least one delay in ms`);
      } else {
        b.delays.forEach((delay: unknown, i: number) => checkDelay(delay, `.delays[${i}]`, fail));
      }
      break;
    default:
      fail(`.type must be one of ${BACKOFF_TYPES.map((t) => `'${t}'`).join(', ')} (got ${describe(b.type)})`);
  }
  return valid;
}

/** Reports a delay that is not a finite number of ms in 0..MAX_BROKER_DELAY_MS; true when fine. */
function checkDelay(value: unknown, field: string, fail: (message: string) => void): boolean {
  if (!isDelay(value)) {
    fail(`${field} must be a finite number of ms >= 0 (got ${describe(value)})`);
    return false;
  }
  if (value > MAX_BROKER_DELAY_MS) {
    fail(`${field} is ${value} ms, but RabbitMQ cannot hold a message longer than ${MAX_BROKER_DELAY_MS} ms`);
    return false;
  }
  return true;
}

/** Checks the delays the policy would actually use with this many attempts. */
function checkSchedule(backoff: BackoffOptions, maxAttempts: number, report: (message: string) => void): void {
  const schedule = delaySchedule(backoff, maxAttempts - 1, MAX_DELAY_LEVELS);
  if (schedule.tooLong) {
    const { afterDelivery, delay } = schedule.tooLong;
    report(
      `.backoff: the delay after delivery ${afterDelivery} would be ${delay} ms, but RabbitMQ cannot hold a message ` +
        `longer than ${MAX_BROKER_DELAY_MS} ms; set backoff.maxDelay or lower maxAttempts`,
    );
  } else if (schedule.levels.length > MAX_DELAY_LEVELS) {
    report(
      `.backoff needs more than ${MAX_DELAY_LEVELS} distinct delays (one wait queue each); ` +
        `set backoff.maxDelay, a larger multiplier, less jitter, or fewer maxAttempts`,
    );
  }
}

function isDelay(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return value.name ? `function ${value.name}` : 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
