import type { DedupOptions } from '../options/dedup-store.interface';
import { MemoryDedupStore } from './memory-dedup.store';
import { validateDedupOptions } from './validate-dedup-options';

const PATH = 'OrdersService.handle';

function validate(options: unknown): string[] {
  return validateDedupOptions(options as DedupOptions, PATH);
}

describe('validateDedupOptions', () => {
  it('accepts undefined, {} and full options', () => {
    expect(validate(undefined)).toEqual([]);
    expect(validate({})).toEqual([]);
    expect(validate({ key: () => 'k', ttl: 1000, lease: 500, store: new MemoryDedupStore() })).toEqual([]);
  });

  it('accepts any object with the store methods (close optional)', () => {
    const store = { claim: async () => ({ status: 'duplicate' }), complete: async () => undefined, release: async () => undefined };
    expect(validate({ store })).toEqual([]);
    expect(validate({ store: { ...store, close: async () => undefined } })).toEqual([]);
  });

  it('rejects a value that is not an object', () => {
    expect(validate(true)).toEqual([`${PATH}: dedup must be an object (got true)`]);
    expect(validate(null)).toEqual([`${PATH}: dedup must be an object (got null)`]);
  });

  it('rejects a key that is not a function', () => {
    expect(validate({ key: 'messageId' })).toEqual([`${PATH}: dedup.key must be a function (message) => string | undefined (got "messageId")`]);
  });

  it.each([
    [0, '0'],
    [-1, '-1'],
    [1.5, '1.5'],
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
    ['1000', '"1000"'],
  ])('rejects ttl and lease %p', (value, shown) => {
    expect(validate({ ttl: value, lease: value })).toEqual([
      `${PATH}: dedup.ttl must be a whole number of ms > 0 (got ${shown})`,
      `${PATH}: dedup.lease must be a whole number of ms > 0 (got ${shown})`,
    ]);
  });

  it('rejects a store without the DedupStore methods', () => {
    expect(validate({ store: 'redis' })).toEqual([`${PATH}: dedup.store must be a DedupStore such as new MemoryDedupStore() (got "redis")`]);
    expect(validate({ store: { claim: () => undefined } })).toEqual([`${PATH}: dedup.store is not a DedupStore: it has no complete(), release() method`]);
    expect(validate({ store: { claim: () => undefined, complete: () => undefined, release: () => undefined, close: 1 } })).toEqual([
      `${PATH}: dedup.store.close must be a function when present (got 1)`,
    ]);
  });

  it('reports every problem at once', () => {
    expect(validate({ key: 1, ttl: 0, lease: -1, store: {} })).toHaveLength(4);
  });
});
