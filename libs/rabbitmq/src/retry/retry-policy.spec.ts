import { InvalidOptionsError } from '../errors/invalid-options.error';
import { MessageDeserializationError } from '../errors/message-deserialization.error';
import { NonRetryableError } from '../errors/non-retryable.error';
import { RetryPolicy } from './retry-policy';
import type { BackoffOptions, RetryOptions } from '../options/retry-options.interface';

/** The delays of the retries after deliveries 1..maxAttempts-1, with a fixed random value. */
function delays(policy: RetryPolicy, random = 0.5): number[] {
  const result: number[] = [];
  for (let attempt = 1; attempt < policy.maxAttempts; attempt++) result.push(policy.delayFor(attempt, () => random));
  return result;
}

/** A small deterministic PRNG so the property test is reproducible. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

class TransientError extends Error {}
class NetworkError extends TransientError {}
class FatalError extends Error {}

describe('RetryPolicy', () => {
  describe('defaults', () => {
    it('retries twice (3 deliveries) with exponential delays of 1 s and 2 s', () => {
      const policy = new RetryPolicy();
      expect(policy.maxAttempts).toBe(3);
      expect(policy.immediateRetries).toBe(0);
      expect(policy.backoff).toEqual({ type: 'exponential', initialDelay: 1000, multiplier: 2, maxDelay: 60000, jitter: 0 });
      expect(delays(policy)).toEqual([1000, 2000]);
      expect(policy.delayLevels()).toEqual([1000, 2000]);
    });

    it('merges handler options over module defaults', () => {
      const policy = new RetryPolicy({ maxAttempts: 5 }, { maxAttempts: 2, backoff: { type: 'fixed', delay: 250 }, immediateRetries: 1 });
      expect(policy.maxAttempts).toBe(5);
      expect(policy.immediateRetries).toBe(1);
      expect(policy.delayLevels()).toEqual([250]);
    });
  });

  describe('exponential backoff', () => {
    it('grows by the multiplier and caps at maxDelay', () => {
      const policy = new RetryPolicy({
        maxAttempts: 10,
        backoff: { type: 'exponential', initialDelay: 1000, multiplier: 2, maxDelay: 60000 },
      });
      expect(delays(policy)).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
      expect(policy.delayLevels()).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000]);
    });

    it('uses multiplier 2 when it is left out, and no cap without maxDelay', () => {
      const policy = new RetryPolicy({ maxAttempts: 5, backoff: { type: 'exponential', initialDelay: 100 } });
      expect(delays(policy)).toEqual([100, 200, 400, 800]);
    });

    it('supports other multipliers and rounds to whole ms', () => {
      const policy = new RetryPolicy({ maxAttempts: 5, backoff: { type: 'exponential', initialDelay: 100, multiplier: 1.5 } });
      expect(delays(policy)).toEqual([100, 150, 225, 338]);
      expect(policy.delayLevels()).toEqual([100, 150, 225, 338]);
    });

    it('gives one level with multiplier 1', () => {
      const policy = new RetryPolicy({ maxAttempts: 50, backoff: { type: 'exponential', initialDelay: 700, multiplier: 1 } });
      expect(policy.delayLevels()).toEqual([700]);
      expect(policy.delayFor(49)).toBe(700);
    });

    it('stays cheap and bounded for a huge maxAttempts once the cap is reached', () => {
      const policy = new RetryPolicy({
        maxAttempts: 1_000_000_000,
        backoff: { type: 'exponential', initialDelay: 1000, maxDelay: 10_000 },
      });
      expect(policy.delayLevels()).toEqual([1000, 2000, 4000, 8000, 10000]);
      expect(policy.delayFor(999_999_999)).toBe(10000);
    });

    it('caps an initialDelay equal to maxDelay', () => {
      const policy = new RetryPolicy({ maxAttempts: 4, backoff: { type: 'exponential', initialDelay: 500, maxDelay: 500 } });
      expect(delays(policy)).toEqual([500, 500, 500]);
    });
  });

  describe('jitter', () => {
    const backoff: BackoffOptions = { type: 'exponential', initialDelay: 1000, multiplier: 2, jitter: 0.2 };

    it('quantizes each base delay into three levels d*(1-j), d, d*(1+j)', () => {
      const policy = new RetryPolicy({ maxAttempts: 3, backoff });
      expect(policy.delayLevels()).toEqual([800, 1000, 1200, 1600, 2000, 2400]);
    });

    it('picks the level from the random value', () => {
      const policy = new RetryPolicy({ maxAttempts: 3, backoff });
      expect(policy.delayFor(1, () => 0)).toBe(800);
      expect(policy.delayFor(1, () => 0.34)).toBe(1000);
      expect(policy.delayFor(1, () => 0.5)).toBe(1000);
      expect(policy.delayFor(1, () => 0.999)).toBe(1200);
      expect(policy.delayFor(2, () => 0)).toBe(1600);
      expect(policy.delayFor(2, () => 0.99)).toBe(2400);
    });

    it('tolerates a random function that returns values outside [0, 1)', () => {
      const policy = new RetryPolicy({ maxAttempts: 3, backoff });
      expect(policy.delayFor(1, () => 1)).toBe(1200);
      expect(policy.delayFor(1, () => 7)).toBe(1200);
      expect(policy.delayFor(1, () => -3)).toBe(800);
      expect(policy.delayFor(1, () => NaN)).toBe(800);
    });

    it('uses Math.random by default and stays within the levels', () => {
      const policy = new RetryPolicy({ maxAttempts: 3, backoff });
      const seen = new Set<number>();
      for (let i = 0; i < 300; i++) seen.add(policy.delayFor(1));
      expect([...seen].sort((a, b) => a - b)).toEqual([800, 1000, 1200]);
    });

    it('clamps jittered levels to maxDelay', () => {
      const policy = new RetryPolicy({
        maxAttempts: 6,
        backoff: { type: 'exponential', initialDelay: 1000, maxDelay: 2000, jitter: 0.5 },
      });
      expect(policy.delayLevels()).toEqual([500, 1000, 1500, 2000]);
      expect(policy.delayFor(5, () => 0.99)).toBe(2000);
      expect(policy.delayFor(5, () => 0)).toBe(1000);
    });

    it('rounds jittered levels to whole ms', () => {
      const policy = new RetryPolicy({ maxAttempts: 2, backoff: { type: 'exponential', initialDelay: 333, jitter: 0.1 } });
      expect(policy.delayLevels()).toEqual([300, 333, 366]);
    });

    it('with jitter 1 the lowest level is 0', () => {
      const policy = new RetryPolicy({ maxAttempts: 2, backoff: { type: 'exponential', initialDelay: 1000, jitter: 1 } });
      expect(policy.delayLevels()).toEqual([0, 1000, 2000]);
    });
  });

  describe('fixed backoff', () => {
    it('always waits the same delay', () => {
      const policy = new RetryPolicy({ maxAttempts: 5, backoff: { type: 'fixed', delay: 500 } });
      expect(delays(policy)).toEqual([500, 500, 500, 500]);
      expect(policy.delayLevels()).toEqual([500]);
    });

    it('rounds to whole ms and accepts 0', () => {
      expect(new RetryPolicy({ backoff: { type: 'fixed', delay: 100.6 } }).delayLevels()).toEqual([101]);
      expect(new RetryPolicy({ backoff: { type: 'fixed', delay: 0 } }).delayFor(1)).toBe(0);
    });
  });

  describe('list backoff', () => {
    it('uses delays[n-1] and repeats the last entry', () => {
      const policy = new RetryPolicy({ maxAttempts: 6, backoff: { type: 'list', delays: [100, 500, 2000] } });
      expect(delays(policy)).toEqual([100, 500, 2000, 2000, 2000]);
      expect(policy.delayLevels()).toEqual([100, 500, 2000]);
    });

    it('only declares the delays that can be reached within maxAttempts', () => {
      const policy = new RetryPolicy({ maxAttempts: 2, backoff: { type: 'list', delays: [100, 500, 2000] } });
      expect(policy.delayLevels()).toEqual([100]);
      expect(policy.delayFor(5)).toBe(100);
    });

    it('sorts and deduplicates the levels, also after a repeated entry', () => {
      const policy = new RetryPolicy({ maxAttempts: 5, backoff: { type: 'list', delays: [500, 100, 100, 300] } });
      expect(delays(policy)).toEqual([500, 100, 100, 300]);
      expect(policy.delayLevels()).toEqual([100, 300, 500]);
    });
  });

  describe('delayFor and delayLevels', () => {
    it('treats attempts past the last retry as the last retry, and attempts below 1 as 1', () => {
      const policy = new RetryPolicy({ maxAttempts: 4, backoff: { type: 'list', delays: [10, 20, 30, 40] } });
      expect(policy.delayFor(3)).toBe(30);
      expect(policy.delayFor(4)).toBe(30);
      expect(policy.delayFor(100)).toBe(30);
      expect(policy.delayFor(Infinity)).toBe(30);
      expect(policy.delayFor(0)).toBe(10);
      expect(policy.delayFor(-2)).toBe(10);
      expect(policy.delayFor(NaN)).toBe(10);
      expect(policy.delayFor(2.7)).toBe(20);
    });

    it('has no levels when maxAttempts is 1', () => {
      expect(new RetryPolicy({ maxAttempts: 1 }).delayLevels()).toEqual([]);
    });

    it('returns a copy of the levels', () => {
      const policy = new RetryPolicy();
      policy.delayLevels().push(42);
      expect(policy.delayLevels()).toEqual([1000, 2000]);
    });

    it('always returns a member of delayLevels (property test over many configurations)', () => {
      const random = prng(42);
      const pick = <T>(values: T[]): T => values[Math.floor(random() * values.length)];
      for (let run = 0; run < 500; run++) {
        const maxAttempts = 2 + Math.floor(random() * 12);
        const backoff: BackoffOptions = pick<BackoffOptions>([
          { type: 'fixed', delay: Math.floor(random() * 10_000) },
          { type: 'list', delays: Array.from({ length: 1 + Math.floor(random() * 6) }, () => Math.floor(random() * 100_000)) },
          {
            type: 'exponential',
            initialDelay: Math.floor(random() * 5000),
            multiplier: 1 + random() * 1.5,
            maxDelay: pick([undefined, 30_000 + Math.floor(random() * 100_000)]),
            jitter: pick([0, random(), 1]),
          },
        ]);
        if (backoff.type === 'exponential' && backoff.maxDelay === undefined) delete backoff.maxDelay;
        const options: RetryOptions = { maxAttempts, backoff };
        const policy = new RetryPolicy(options);
        const levels = policy.delayLevels();
        expect([...levels].sort((a, b) => a - b)).toEqual(levels);
        expect(new Set(levels).size).toBe(levels.length);
        for (const level of levels) expect(Number.isInteger(level)).toBe(true);
        const seen = new Set<number>();
        for (let attempt = 0; attempt <= maxAttempts + 2; attempt++) {
          for (const r of [0, 0.2, 0.5, 0.8, 0.9999, random()]) {
            const delay = policy.delayFor(attempt, () => r);
            if (!levels.includes(delay)) throw new Error(`delay ${delay} not in ${levels.join(',')} for ${JSON.stringify(options)}`);
            seen.add(delay);
          }
        }
        // Every declared level is reachable, so no wait queue is declared for nothing.
        expect([...seen].sort((a, b) => a - b)).toEqual(levels);
      }
    });
  });

  describe('shouldRetry', () => {
    it('retries until the delivery that just failed is the last one allowed', () => {
      const policy = new RetryPolicy({ maxAttempts: 3 });
      const error = new Error('db down');
      expect(policy.shouldRetry(error, 1)).toBe(true);
      expect(policy.shouldRetry(error, 2)).toBe(true);
      expect(policy.shouldRetry(error, 3)).toBe(false);
      expect(policy.shouldRetry(error, 4)).toBe(false);
      expect(policy.noRetryReason(error, 3)).toBe('attempts-exhausted');
      expect(policy.noRetryReason(error, 1)).toBeUndefined();
    });

    it('never retries with maxAttempts 1', () => {
      expect(new RetryPolicy({ maxAttempts: 1 }).shouldRetry(new Error('x'), 1)).toBe(false);
    });

    it('retries anything thrown by default, even non-errors', () => {
      const policy = new RetryPolicy();
      for (const thrown of [new Error('x'), new TypeError('y'), 'a string', undefined, null, 42, { message: 'plain' }]) {
        expect(policy.shouldRetry(thrown, 1)).toBe(true);
      }
    });

    it('does not retry a NonRetryableError', () => {
      const policy = new RetryPolicy({ maxAttempts: 10 });
      const error = new NonRetryableError('invalid order');
      expect(policy.shouldRetry(error, 1)).toBe(false);
      expect(policy.noRetryReason(error, 1)).toBe('non-retryable-error');
    });

    it('recognises a NonRetryableError that crossed a boundary by its name or code', () => {
      const policy = new RetryPolicy({ maxAttempts: 10 });
      const renamed = new Error('from another copy of the library');
      renamed.name = 'NonRetryableError';
      expect(policy.shouldRetry(renamed, 1)).toBe(false);
      expect(policy.shouldRetry({ name: 'NonRetryableError', message: 'serialized' }, 1)).toBe(false);
      expect(policy.shouldRetry(Object.assign(new Error('coded'), { code: 'NON_RETRYABLE' }), 1)).toBe(false);
      expect(policy.shouldRetry({ code: 'NON_RETRYABLE' }, 1)).toBe(false);
      expect(policy.shouldRetry({ code: 'SOMETHING_ELSE' }, 1)).toBe(true);
    });

    it('does not retry a deserialization error', () => {
      const policy = new RetryPolicy({ maxAttempts: 10 });
      const error = new MessageDeserializationError('orders', 'application/json', new SyntaxError('Unexpected token'));
      expect(policy.shouldRetry(error, 1)).toBe(false);
      expect(policy.noRetryReason(error, 1)).toBe('deserialization-error');
      expect(policy.shouldRetry({ code: 'MESSAGE_DESERIALIZATION' }, 1)).toBe(false);
    });

    it('with retryOn, retries only those classes and their subclasses', () => {
      const policy = new RetryPolicy({ maxAttempts: 5, retryOn: [TransientError] });
      expect(policy.shouldRetry(new TransientError('t'), 1)).toBe(true);
      expect(policy.shouldRetry(new NetworkError('n'), 1)).toBe(true);
      expect(policy.shouldRetry(new Error('e'), 1)).toBe(false);
      expect(policy.shouldRetry('not an error', 1)).toBe(false);
      expect(policy.noRetryReason(new FatalError('f'), 1)).toBe('not-in-retry-on');
    });

    it('with several retryOn classes, retries any of them', () => {
      const policy = new RetryPolicy({ retryOn: [TransientError, FatalError] });
      expect(policy.shouldRetry(new FatalError('f'), 1)).toBe(true);
      expect(policy.shouldRetry(new TypeError('t'), 1)).toBe(false);
    });

    it('asks the retryable predicate', () => {
      const retryable = jest.fn((error: unknown) => !(error instanceof FatalError));
      const policy = new RetryPolicy({ maxAttempts: 5, retryable });
      expect(policy.shouldRetry(new Error('e'), 1)).toBe(true);
      expect(policy.shouldRetry(new FatalError('f'), 1)).toBe(false);
      expect(policy.noRetryReason(new FatalError('f'), 1)).toBe('retryable-returned-false');
      expect(retryable).toHaveBeenCalledWith(expect.any(FatalError));
    });

    it('requires both retryOn and retryable to agree', () => {
      const policy = new RetryPolicy({
        maxAttempts: 5,
        retryOn: [TransientError],
        retryable: (error) => !(error instanceof NetworkError),
      });
      expect(policy.shouldRetry(new TransientError('t'), 1)).toBe(true);
      expect(policy.shouldRetry(new NetworkError('n'), 1)).toBe(false);
      expect(policy.shouldRetry(new FatalError('f'), 1)).toBe(false);
    });

    it('lets NonRetryableError and exhausted attempts win over retryOn and retryable', () => {
      const retryable = jest.fn(() => true);
      const policy = new RetryPolicy({ maxAttempts: 2, retryOn: [Error], retryable });
      expect(policy.shouldRetry(new NonRetryableError('no'), 1)).toBe(false);
      expect(policy.shouldRetry(new Error('e'), 2)).toBe(false);
      expect(retryable).not.toHaveBeenCalled();
    });

    it('treats a retryable predicate that throws as "retry" and never throws itself', () => {
      const policy = new RetryPolicy({
        maxAttempts: 3,
        retryable: () => {
          throw new Error('bug in predicate');
        },
      });
      expect(policy.shouldRetry(new Error('e'), 1)).toBe(true);
      expect(policy.shouldRetry(new Error('e'), 3)).toBe(false);
    });
  });

  describe('shouldRetryImmediately', () => {
    it('allows immediateRetries in-process runs after the first failure', () => {
      const policy = new RetryPolicy({ immediateRetries: 2 });
      const error = new Error('flaky');
      expect(policy.shouldRetryImmediately(error, 1)).toBe(true);
      expect(policy.shouldRetryImmediately(error, 2)).toBe(true);
      expect(policy.shouldRetryImmediately(error, 3)).toBe(false);
    });

    it('does not depend on maxAttempts: every delivery gets them', () => {
      const policy = new RetryPolicy({ maxAttempts: 1, immediateRetries: 1 });
      expect(policy.shouldRetryImmediately(new Error('flaky'), 1)).toBe(true);
    });

    it('is off by default and never applies to non-retryable errors', () => {
      expect(new RetryPolicy().shouldRetryImmediately(new Error('e'), 1)).toBe(false);
      const policy = new RetryPolicy({ immediateRetries: 3, retryOn: [TransientError] });
      expect(policy.shouldRetryImmediately(new NonRetryableError('no'), 1)).toBe(false);
      expect(policy.shouldRetryImmediately({ code: 'MESSAGE_DESERIALIZATION' }, 1)).toBe(false);
      expect(policy.shouldRetryImmediately(new Error('not transient'), 1)).toBe(false);
      expect(policy.shouldRetryImmediately(new TransientError('t'), 1)).toBe(true);
    });
  });

  describe('static helpers', () => {
    it('isNonRetryable and isDeserializationError handle any thrown value', () => {
      expect(RetryPolicy.isNonRetryable(new NonRetryableError('x'))).toBe(true);
      expect(RetryPolicy.isNonRetryable(undefined)).toBe(false);
      expect(RetryPolicy.isNonRetryable('NonRetryableError')).toBe(false);
      expect(RetryPolicy.isDeserializationError(null)).toBe(false);
      expect(RetryPolicy.isDeserializationError({ code: 'MESSAGE_DESERIALIZATION' })).toBe(true);
    });
  });

  describe('invalid options', () => {
    it('throws InvalidOptionsError listing every problem', () => {
      let thrown: unknown;
      try {
        new RetryPolicy({ maxAttempts: 0, immediateRetries: -1, backoff: { type: 'fixed', delay: -5 } });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidOptionsError);
      const problems = (thrown as InvalidOptionsError).problems;
      expect(problems).toEqual([
        'RetryPolicy: retry.maxAttempts must be an integer >= 1 (got 0)',
        'RetryPolicy: retry.immediateRetries must be an integer >= 0 (got -1)',
        'RetryPolicy: retry.backoff.delay must be a finite number of ms >= 0 (got -5)',
      ]);
    });

    it('rejects a schedule the broker cannot hold', () => {
      expect(() => new RetryPolicy({ maxAttempts: 60, backoff: { type: 'exponential', initialDelay: 1000 } })).toThrow(InvalidOptionsError);
    });
  });
});
