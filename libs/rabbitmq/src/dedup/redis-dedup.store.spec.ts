import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { DedupStoreUnavailableError } from '../errors/dedup-store-unavailable.error';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { describeDedupStoreContract } from './dedup-store.contract';
import { RedisDedupStore } from './redis-dedup.store';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Unique per run, so parallel runs and leftovers never collide; every key of this spec starts with it. */
const RUN_PREFIX = `warren:test:${process.pid}:${randomUUID()}:`;
/** Nothing listens on port 1. */
const UNREACHABLE_URL = 'redis://127.0.0.1:1';

jest.setTimeout(15_000);

/** Deletes every key of this run. */
async function deleteRunKeys(client: Redis): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${RUN_PREFIX}*`, 'COUNT', 500);
    if (keys.length > 0) await client.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

describeDedupStoreContract('RedisDedupStore (owned client from a url)', {
  create: () => new RedisDedupStore({ url: REDIS_URL, keyPrefix: `${RUN_PREFIX}owned:` }),
  destroy: (store) => store.close?.(),
});

describe('RedisDedupStore', () => {
  let admin: Redis;

  beforeAll(() => {
    admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    await deleteRunKeys(admin);
    await admin.quit();
  });

  describeDedupStoreContract('RedisDedupStore (given client)', {
    create: () => new RedisDedupStore({ client: admin, keyPrefix: `${RUN_PREFIX}given:` }),
  });

  it('stores p:<token> under the prefix with the lease, then done with the TTL', async () => {
    const store = new RedisDedupStore({ client: admin, keyPrefix: `${RUN_PREFIX}layout:` });
    const fullKey = `${RUN_PREFIX}layout:order-1`;
    const claim = await store.claim('order-1', 10_000);
    if (claim.status !== 'claimed') throw new Error(claim.status);
    expect(await admin.get(fullKey)).toBe(`p:${claim.token}`);
    const leaseLeft = await admin.pttl(fullKey);
    expect(leaseLeft).toBeGreaterThan(9_000);
    expect(leaseLeft).toBeLessThanOrEqual(10_000);

    await store.complete('order-1', claim.token, 60_000);
    expect(await admin.get(fullKey)).toBe('done');
    expect(await admin.pttl(fullKey)).toBeGreaterThan(59_000);
  });

  it("uses 'warren:dedup:' as the default prefix", async () => {
    const store = new RedisDedupStore({ client: admin });
    const key = `${RUN_PREFIX}default-prefix`;
    const claim = await store.claim(key, 5_000);
    try {
      expect(claim.status).toBe('claimed');
      expect(await admin.exists(`warren:dedup:${key}`)).toBe(1);
    } finally {
      await admin.del(`warren:dedup:${key}`);
    }
  });

  it('rounds fractional and non-positive leases to a valid PX', async () => {
    const store = new RedisDedupStore({ client: admin, keyPrefix: `${RUN_PREFIX}px:` });
    expect((await store.claim('fraction', 1500.2)).status).toBe('claimed');
    expect((await store.claim('zero', 0)).status).toBe('claimed');
  });

  it('does not close a client it was given', async () => {
    const store = new RedisDedupStore({ client: admin, keyPrefix: `${RUN_PREFIX}given-close:` });
    await store.close();
    expect(await admin.ping()).toBe('PONG');
  });

  it('closes the client it created, and close() can be called twice', async () => {
    const store = new RedisDedupStore({ url: REDIS_URL, keyPrefix: `${RUN_PREFIX}owned-close:` });
    expect((await store.claim('k', 1000)).status).toBe('claimed');
    await store.close();
    expect(store.client.status).toBe('end');
    await store.close();
    await expect(store.claim('k', 1000)).rejects.toBeInstanceOf(DedupStoreUnavailableError);
  });

  it('waits for its first connection instead of failing calls made right after construction', async () => {
    const store = new RedisDedupStore({ url: REDIS_URL, keyPrefix: `${RUN_PREFIX}fresh:` });
    try {
      expect(store.client.status).not.toBe('ready');
      expect((await store.claim('k', 1000)).status).toBe('claimed');
    } finally {
      await store.close();
    }
  });

  it('shares one wait for the connection among concurrent calls', async () => {
    const store = new RedisDedupStore({ url: REDIS_URL, keyPrefix: `${RUN_PREFIX}burst:` });
    try {
      const before = store.client.listenerCount('ready');
      const claims = Array.from({ length: 50 }, (_, i) => store.claim(`k${i}`, 1000));
      expect(store.client.listenerCount('ready')).toBeLessThanOrEqual(before + 1);
      expect((await Promise.all(claims)).every((claim) => claim.status === 'claimed')).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('connects a lazy given client that has no offline queue', async () => {
    const client = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false });
    const store = new RedisDedupStore({ client, keyPrefix: `${RUN_PREFIX}lazy:` });
    try {
      expect(client.status).toBe('wait');
      expect((await store.claim('k', 1000)).status).toBe('claimed');
    } finally {
      await client.quit();
    }
  });

  describe('when Redis cannot be reached', () => {
    it('rejects every call with DedupStoreUnavailableError within a few seconds, then fails fast', async () => {
      const store = new RedisDedupStore({ url: UNREACHABLE_URL, keyPrefix: 'unreachable:', timeout: 1000 });
      try {
        const started = Date.now();
        const error: unknown = await store.claim('order-1', 1000).catch((e: unknown) => e);
        expect(Date.now() - started).toBeLessThan(3000);
        expect(error).toBeInstanceOf(DedupStoreUnavailableError);
        const unavailable = error as DedupStoreUnavailableError;
        expect(unavailable.code).toBe('DEDUP_STORE_UNAVAILABLE');
        expect(unavailable.operation).toBe('claim');
        expect(unavailable.key).toBe('unreachable:order-1');
        // Not toBeInstanceOf(Error): Node's socket errors come from another realm under Jest.
        expect(unavailable.cause).toMatchObject({ message: expect.stringContaining('ECONNREFUSED') });
        expect(unavailable.message).toContain('ECONNREFUSED');
        expect(unavailable.message).toContain('will wait and be retried');

        // Known down now: later calls do not wait for a timeout.
        const again = Date.now();
        await expect(store.complete('order-1', 'token', 1000)).rejects.toMatchObject({ operation: 'complete' });
        await expect(store.release('order-1', 'token')).rejects.toMatchObject({ operation: 'release' });
        expect(Date.now() - again).toBeLessThan(1500);
      } finally {
        await store.close();
      }
      await expect(store.claim('order-1', 1000)).rejects.toBeInstanceOf(DedupStoreUnavailableError);
    });

    it('fails a call after `timeout` when the server accepts the connection but never answers', async () => {
      const sockets: Socket[] = [];
      const silent: Server = createServer((socket) => void sockets.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as { port: number };
      const store = new RedisDedupStore({ url: `redis://127.0.0.1:${port}`, timeout: 300 });
      try {
        const started = Date.now();
        const error: unknown = await store.claim('k', 1000).catch((e: unknown) => e);
        expect(Date.now() - started).toBeGreaterThanOrEqual(250);
        expect(Date.now() - started).toBeLessThan(2000);
        expect(error).toBeInstanceOf(DedupStoreUnavailableError);
        expect((error as DedupStoreUnavailableError).cause).toMatchObject({ message: 'Redis was not ready within 300 ms' });
      } finally {
        await store.close();
        sockets.forEach((socket) => socket.destroy());
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it('reports a given client that was closed', async () => {
      const client = new Redis(REDIS_URL, { lazyConnect: true });
      await client.connect();
      await client.quit();
      const store = new RedisDedupStore({ client, keyPrefix: `${RUN_PREFIX}closed:` });
      await expect(store.claim('k', 1000)).rejects.toBeInstanceOf(DedupStoreUnavailableError);
    });
  });

  describe('options', () => {
    it('needs exactly one of client or url', () => {
      expect(() => new RedisDedupStore({})).toThrow(InvalidOptionsError);
      expect(() => new RedisDedupStore({ client: admin, url: REDIS_URL })).toThrow(/give exactly one of client \(an ioredis instance\) or url/);
    });

    it('rejects a non-positive timeout', () => {
      expect(() => new RedisDedupStore({ client: admin, timeout: 0 })).toThrow(/timeout must be a number of ms > 0 \(got 0\)/);
    });
  });
});
