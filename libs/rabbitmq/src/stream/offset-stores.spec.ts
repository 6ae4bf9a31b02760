import { Redis } from 'ioredis';
import type { StreamOffsetStore } from '../options/stream-options.interface';
import { MemoryStreamOffsetStore } from './memory-offset.store';
import { RedisStreamOffsetStore } from './redis-offset.store';
import { InvalidOptionsError } from '../errors/invalid-options.error';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** What every StreamOffsetStore must do. */
function contract(name: string, make: () => StreamOffsetStore, done: (store: StreamOffsetStore) => Promise<void>): void {
  describe(name, () => {
    let store: StreamOffsetStore;
    const reader = `reader-${process.pid}-${Date.now()}`;
    beforeEach(() => {
      store = make();
    });
    afterEach(() => done(store));

    it('knows no position for a new reader', async () => {
      expect(await store.load(`${reader}-new`)).toBeUndefined();
    });

    it('keeps the largest offset saved, per reader', async () => {
      await store.save(reader, 41);
      await store.save(reader, 7);
      expect(await store.load(reader)).toBe(41);
      await store.save(reader, 0x1_0000_0001);
      expect(await store.load(reader)).toBe(0x1_0000_0001);
      await store.save(`${reader}-other`, 3);
      expect(await store.load(`${reader}-other`)).toBe(3);
      expect(await store.load(reader)).toBe(0x1_0000_0001);
    });
  });
}

contract(
  'MemoryStreamOffsetStore',
  () => new MemoryStreamOffsetStore(),
  () => Promise.resolve(),
);

const prefix = `test:stream-offsets:${process.pid}:${Date.now()}:`;
contract(
  'RedisStreamOffsetStore',
  () => new RedisStreamOffsetStore({ url: REDIS_URL, keyPrefix: prefix }),
  async (store) => {
    const client = (store as RedisStreamOffsetStore).client;
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
    await store.close?.();
  },
);

describe('RedisStreamOffsetStore options', () => {
  it('wants exactly one of client and url', () => {
    expect(() => new RedisStreamOffsetStore({})).toThrow(InvalidOptionsError);
    const client = new Redis(REDIS_URL, { lazyConnect: true });
    expect(() => new RedisStreamOffsetStore({ client, url: REDIS_URL })).toThrow(InvalidOptionsError);
    client.disconnect();
  });
});
