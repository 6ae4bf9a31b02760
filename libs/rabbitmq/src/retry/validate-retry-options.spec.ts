import { MAX_BROKER_DELAY_MS, MAX_DELAY_LEVELS } from './backoff-schedule';
import { DEFAULT_RETRY_OPTIONS, resolveRetryOptions } from './resolve-retry-options';
import type { RetryOptions } from '../options/retry-options.interface';
import { validateRetryOptions } from './validate-retry-options';

const PATH = 'OrdersService.handle';

/** Validates options given as plain JS (they may come from configuration, untyped). */
function validate(options: unknown): string[] {
  return validateRetryOptions(options as RetryOptions, PATH);
}

describe('validateRetryOptions', () => {
  it('accepts undefined, {} and the defaults', () => {
    expect(validate(undefined)).toEqual([]);
    expect(validate({})).toEqual([]);
    expect(validate(DEFAULT_RETRY_OPTIONS)).toEqual([]);
    expect(validate(resolveRetryOptions({}))).toEqual([]);
  });

  it('accepts every valid backoff type', () => {
    expect(validate({ maxAttempts: 1, backoff: { type: 'fixed', delay: 0 } })).toEqual([]);
    expect(validate({ backoff: { type: 'list', delays: [100, 0, MAX_BROKER_DELAY_MS] } })).toEqual([]);
    expect(
      validate({
        maxAttempts: 8,
        immediateRetries: 2,
        retryOn: [TypeError],
        retryable: () => true,
        backoff: { type: 'exponential', initialDelay: 10, multiplier: 1, maxDelay: 10, jitter: 1 },
      }),
    ).toEqual([]);
  });

  it('rejects a value that is not an object', () => {
    expect(validate(3)).toEqual([`${PATH}: retry must be an object (got 3)`]);
    expect(validate(null)).toEqual([`${PATH}: retry must be an object (got null)`]);
    expect(validate([])).toEqual([`${PATH}: retry must be an object (got an array)`]);
  });

  it.each([
    [0, '0'],
    [-1, '-1'],
    [2.5, '2.5'],
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
    ['3', '"3"'],
  ])('rejects maxAttempts %p', (maxAttempts, shown) => {
    expect(validate({ maxAttempts })).toEqual([`${PATH}: retry.maxAttempts must be an integer >= 1 (got ${shown})`]);
  });

  it('rejects a negative or fractional immediateRetries', () => {
    expect(validate({ immediateRetries: -1 })).toEqual([`${PATH}: retry.immediateRetries must be an integer >= 0 (got -1)`]);
    expect(validate({ immediateRetries: 0.5 })).toEqual([`${PATH}: retry.immediateRetries must be an integer >= 0 (got 0.5)`]);
  });

  it('rejects a retryable that is not a function', () => {
    expect(validate({ retryable: true })).toEqual([`${PATH}: retry.retryable must be a function (error) => boolean (got true)`]);
  });

  it('rejects a retryOn that is not a non-empty array of classes', () => {
    expect(validate({ retryOn: TypeError })).toEqual([`${PATH}: retry.retryOn must be an array of error classes (got function TypeError)`]);
    expect(validate({ retryOn: [] })).toEqual([
      `${PATH}: retry.retryOn is empty, so no error would ever be retried; leave it out, or set maxAttempts: 1 to disable retries`,
    ]);
    expect(validate({ retryOn: [TypeError, 'RangeError'] })).toEqual([`${PATH}: retry.retryOn[1] must be an error class (got "RangeError")`]);
  });

  describe('backoff', () => {
    it('rejects a missing or unknown type', () => {
      expect(validate({ backoff: { type: 'linear', delay: 5 } })).toEqual([
        `${PATH}: retry.backoff.type must be one of 'fixed', 'exponential', 'list' (got "linear")`,
      ]);
      expect(validate({ backoff: {} })).toEqual([`${PATH}: retry.backoff.type must be one of 'fixed', 'exponential', 'list' (got undefined)`]);
      expect(validate({ backoff: 1000 })).toEqual([`${PATH}: retry.backoff must be an object such as { type: 'exponential', initialDelay: 1000 } (got 1000)`]);
    });

    it.each([
      [-5, '-5'],
      [NaN, 'NaN'],
      [Infinity, 'Infinity'],
      [undefined, 'undefined'],
      ['100', '"100"'],
    ])('rejects the fixed delay %p', (delay, shown) => {
      expect(validate({ backoff: { type: 'fixed', delay } })).toEqual([`${PATH}: retry.backoff.delay must be a finite number of ms >= 0 (got ${shown})`]);
    });

    it('rejects a delay the broker cannot hold', () => {
      expect(validate({ backoff: { type: 'fixed', delay: MAX_BROKER_DELAY_MS + 1 } })).toEqual([
        `${PATH}: retry.backoff.delay is 4294967296 ms, but RabbitMQ cannot hold a message longer than 4294967295 ms`,
      ]);
    });

    it('checks every exponential field', () => {
      expect(validate({ backoff: { type: 'exponential', initialDelay: -1, multiplier: 0.5, maxDelay: Infinity, jitter: 1.5 } })).toEqual([
        `${PATH}: retry.backoff.initialDelay must be a finite number of ms >= 0 (got -1)`,
        `${PATH}: retry.backoff.multiplier must be a finite number >= 1 (got 0.5)`,
        `${PATH}: retry.backoff.maxDelay must be a finite number of ms >= 0 (got Infinity)`,
        `${PATH}: retry.backoff.jitter must be a fraction between 0 and 1 (got 1.5)`,
      ]);
      expect(validate({ backoff: { type: 'exponential', initialDelay: 100, jitter: -0.1 } })).toEqual([
        `${PATH}: retry.backoff.jitter must be a fraction between 0 and 1 (got -0.1)`,
      ]);
      expect(validate({ backoff: { type: 'exponential', initialDelay: 100, multiplier: NaN } })).toEqual([
        `${PATH}: retry.backoff.multiplier must be a finite number >= 1 (got NaN)`,
      ]);
    });

    it('rejects a maxDelay below initialDelay', () => {
      expect(validate({ backoff: { type: 'exponential', initialDelay: 1000, maxDelay: 500 } })).toEqual([
        `${PATH}: retry.backoff.maxDelay (500 ms) must be >= initialDelay (1000 ms)`,
      ]);
    });

    it('rejects an exponential maxDelay or initialDelay over the broker maximum', () => {
      expect(validate({ backoff: { type: 'exponential', initialDelay: 1000, maxDelay: 5e9 } })).toEqual([
        `${PATH}: retry.backoff.maxDelay is 5000000000 ms, but RabbitMQ cannot hold a message longer than 4294967295 ms`,
      ]);
    });

    it('checks list delays', () => {
      expect(validate({ backoff: { type: 'list', delays: [] } })).toEqual([`${PATH}: retry.backoff.delays must not be empty: give at least one delay in ms`]);
      expect(validate({ backoff: { type: 'list', delays: 100 } })).toEqual([`${PATH}: retry.backoff.delays must be an array of delays in ms (got 100)`]);
      expect(validate({ backoff: { type: 'list', delays: [100, -1, 5e9] } })).toEqual([
        `${PATH}: retry.backoff.delays[1] must be a finite number of ms >= 0 (got -1)`,
        `${PATH}: retry.backoff.delays[2] is 5000000000 ms, but RabbitMQ cannot hold a message longer than 4294967295 ms`,
      ]);
    });

    it('rejects an uncapped exponential schedule that outgrows the broker maximum within maxAttempts', () => {
      expect(validate({ maxAttempts: 40, backoff: { type: 'exponential', initialDelay: 1000 } })).toEqual([
        `${PATH}: retry.backoff: the delay after delivery 24 would be 8388608000 ms, but RabbitMQ cannot hold a message longer than 4294967295 ms; set backoff.maxDelay or lower maxAttempts`,
      ]);
      // The same backoff is fine while maxAttempts keeps it below the limit.
      expect(validate({ maxAttempts: 24, backoff: { type: 'exponential', initialDelay: 1000 } })).toEqual([]);
    });

    it('counts the upper jitter level against the broker maximum', () => {
      const backoff = { type: 'exponential', initialDelay: 4_000_000_000, jitter: 0.5 };
      expect(validate({ maxAttempts: 2, backoff })).toEqual([
        `${PATH}: retry.backoff: the delay after delivery 1 would be 6000000000 ms, but RabbitMQ cannot hold a message longer than 4294967295 ms; set backoff.maxDelay or lower maxAttempts`,
      ]);
      expect(validate({ maxAttempts: 2, backoff: { ...backoff, maxDelay: MAX_BROKER_DELAY_MS } })).toEqual([]);
    });

    it('uses the default backoff and maxAttempts for the schedule check when they are left out', () => {
      expect(validate({ maxAttempts: 1000 })).toEqual([]);
      expect(validate({ backoff: { type: 'exponential', initialDelay: 3e9 } })).toEqual([
        `${PATH}: retry.backoff: the delay after delivery 2 would be 6000000000 ms, but RabbitMQ cannot hold a message longer than 4294967295 ms; set backoff.maxDelay or lower maxAttempts`,
      ]);
    });

    it(`rejects a schedule that needs more than ${MAX_DELAY_LEVELS} wait queues`, () => {
      expect(validate({ maxAttempts: 500, backoff: { type: 'exponential', initialDelay: 1000, multiplier: 1.01, maxDelay: 100_000 } })).toEqual([
        `${PATH}: retry.backoff needs more than ${MAX_DELAY_LEVELS} distinct delays (one wait queue each); set backoff.maxDelay, a larger multiplier, less jitter, or fewer maxAttempts`,
      ]);
      const list = Array.from({ length: 150 }, (_, i) => i * 10);
      expect(validate({ maxAttempts: 151, backoff: { type: 'list', delays: list } })).toHaveLength(1);
      expect(validate({ maxAttempts: 100, backoff: { type: 'list', delays: list } })).toEqual([]);
    });

    it('skips the schedule check while other fields are invalid', () => {
      expect(validate({ maxAttempts: 0, backoff: { type: 'exponential', initialDelay: 3e9 } })).toEqual([
        `${PATH}: retry.maxAttempts must be an integer >= 1 (got 0)`,
      ]);
    });
  });

  it('reports every problem at once', () => {
    expect(validate({ maxAttempts: 0, immediateRetries: -2, retryOn: [], backoff: { type: 'list', delays: [] } })).toHaveLength(4);
  });
});
