import { DEFAULT_RETRY_OPTIONS, resolveRetryOptions } from './resolve-retry-options';

describe('resolveRetryOptions', () => {
  it('returns the defaults for no options', () => {
    expect(resolveRetryOptions(undefined)).toEqual({
      maxAttempts: 3,
      backoff: { type: 'exponential', initialDelay: 1000, multiplier: 2, maxDelay: 60000, jitter: 0 },
      immediateRetries: 0,
    });
    expect(resolveRetryOptions({})).toEqual(resolveRetryOptions(undefined));
  });

  it('freezes the defaults', () => {
    expect(Object.isFrozen(DEFAULT_RETRY_OPTIONS)).toBe(true);
    expect(Object.isFrozen(DEFAULT_RETRY_OPTIONS.backoff)).toBe(true);
  });

  it('lets handler options win over module defaults, field by field', () => {
    const retryable = (): boolean => true;
    const resolved = resolveRetryOptions(
      { maxAttempts: 7 },
      { maxAttempts: 2, immediateRetries: 1, retryable, retryOn: [TypeError], backoff: { type: 'fixed', delay: 5 } },
    );
    expect(resolved).toEqual({
      maxAttempts: 7,
      immediateRetries: 1,
      retryable,
      retryOn: [TypeError],
      backoff: { type: 'fixed', delay: 5 },
    });
  });

  it('keeps an explicit 0 instead of the default', () => {
    expect(resolveRetryOptions({ immediateRetries: 0 }, { immediateRetries: 4 }).immediateRetries).toBe(0);
  });

  it('replaces the backoff as a whole instead of merging its fields', () => {
    const resolved = resolveRetryOptions(
      { backoff: { type: 'exponential', initialDelay: 10 } },
      { backoff: { type: 'exponential', initialDelay: 500, maxDelay: 9000, jitter: 0.3 } },
    );
    expect(resolved.backoff).toEqual({ type: 'exponential', initialDelay: 10 });
  });

  it('leaves retryable and retryOn out when nobody sets them', () => {
    const resolved = resolveRetryOptions({ maxAttempts: 2 }, { maxAttempts: 4 });
    expect('retryable' in resolved).toBe(false);
    expect('retryOn' in resolved).toBe(false);
  });
});
