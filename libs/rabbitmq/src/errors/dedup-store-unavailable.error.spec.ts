import { DedupStoreUnavailableError } from './dedup-store-unavailable.error';
import { WarrenError } from './warren.error';

describe('DedupStoreUnavailableError', () => {
  it('carries operation, key and cause, and says what happens to the message', () => {
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:6379');
    const error = new DedupStoreUnavailableError('claim', 'warren:dedup:order-1', cause);
    expect(error).toBeInstanceOf(WarrenError);
    expect(error.code).toBe('DEDUP_STORE_UNAVAILABLE');
    expect(error.name).toBe('DedupStoreUnavailableError');
    expect(error.operation).toBe('claim');
    expect(error.key).toBe('warren:dedup:order-1');
    expect(error.cause).toBe(cause);
    expect(error.message).toContain('could not be reached');
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).toContain('will wait and be retried');
  });

  it('accepts a cause that is not an Error', () => {
    const error = new DedupStoreUnavailableError('release', 'k', 'boom');
    expect(error.cause).toBe('boom');
    expect(error.message).toContain('release');
  });
});
