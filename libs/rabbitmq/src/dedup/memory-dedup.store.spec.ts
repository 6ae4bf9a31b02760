import { InvalidOptionsError } from '../errors/invalid-options.error';
import { describeDedupStoreContract } from './dedup-store.contract';
import { MemoryDedupStore } from './memory-dedup.store';

describeDedupStoreContract('MemoryDedupStore', { create: () => new MemoryDedupStore(), destroy: (store) => store.close?.() });

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => void (time += ms) };
}

async function claimToken(store: MemoryDedupStore, key: string, leaseMs = 60_000): Promise<string> {
  const claim = await store.claim(key, leaseMs);
  if (claim.status !== 'claimed') throw new Error(`expected a claim of ${key}, got ${claim.status}`);
  return claim.token;
}

describe('MemoryDedupStore', () => {
  it('rejects an invalid maxEntries', () => {
    expect(() => new MemoryDedupStore({ maxEntries: 0 })).toThrow(InvalidOptionsError);
    expect(() => new MemoryDedupStore({ maxEntries: 1.5 })).toThrow(/maxEntries must be an integer >= 1 \(got 1.5\)/);
  });

  it('expires leases and done keys exactly at their deadline, by its clock', async () => {
    const clock = manualClock();
    const store = new MemoryDedupStore({ now: clock.now });
    const token = await claimToken(store, 'k', 100);
    clock.advance(99);
    expect(await store.claim('k', 100)).toEqual({ status: 'in-progress' });
    clock.advance(1);
    const retaken = await claimToken(store, 'k', 100);
    expect(retaken).not.toBe(token);
    await store.complete('k', retaken, 1000);
    clock.advance(999);
    expect(await store.claim('k', 100)).toEqual({ status: 'duplicate' });
    clock.advance(1);
    expect((await store.claim('k', 100)).status).toBe('claimed');
  });

  describe('bound', () => {
    it('never holds more than maxEntries and evicts the oldest first', async () => {
      const store = new MemoryDedupStore({ maxEntries: 3 });
      for (const key of ['a', 'b', 'c', 'd']) await claimToken(store, key);
      expect(store.size).toBe(3);
      // 'a' was the oldest, so it was dropped and can be claimed again; the others are still held.
      expect((await store.claim('a', 60_000)).status).toBe('claimed');
      expect(store.size).toBe(3);
      expect(await store.claim('c', 60_000)).toEqual({ status: 'in-progress' });
      expect(await store.claim('d', 60_000)).toEqual({ status: 'in-progress' });
    });

    it('counts a completion as recent use', async () => {
      const store = new MemoryDedupStore({ maxEntries: 3 });
      const a = await claimToken(store, 'a');
      await claimToken(store, 'b');
      await claimToken(store, 'c');
      await store.complete('a', a, 60_000);
      await claimToken(store, 'd');
      expect(await store.claim('a', 60_000)).toEqual({ status: 'duplicate' });
      expect((await store.claim('b', 60_000)).status).toBe('claimed');
    });

    it('does not grow on repeated claims of held keys', async () => {
      const store = new MemoryDedupStore({ maxEntries: 10 });
      await claimToken(store, 'a');
      for (let i = 0; i < 100; i++) await store.claim('a', 60_000);
      expect(store.size).toBe(1);
    });

    it('stays fast at its default bound (O(1) per call)', async () => {
      const store = new MemoryDedupStore({ maxEntries: 50_000 });
      const started = performance.now();
      for (let i = 0; i < 200_000; i++) {
        const claim = await store.claim(`key-${i}`, 60_000);
        if (claim.status === 'claimed' && i % 2 === 0) await store.complete(`key-${i}`, claim.token, 60_000);
      }
      expect(store.size).toBe(50_000);
      expect(performance.now() - started).toBeLessThan(10_000);
    });
  });

  describe('expiry without timers', () => {
    it('sweeps expired entries a few at a time during calls', async () => {
      const clock = manualClock();
      const store = new MemoryDedupStore({ now: clock.now });
      for (let i = 0; i < 40; i++) await claimToken(store, `old-${i}`, 10);
      clock.advance(10);
      expect(store.size).toBe(40);
      for (let i = 0; i < 10; i++) await store.release('unrelated', 'token');
      expect(store.size).toBe(0);
    });

    it('stops sweeping at the first live entry', async () => {
      const clock = manualClock();
      const store = new MemoryDedupStore({ now: clock.now });
      await claimToken(store, 'live', 60_000);
      await claimToken(store, 'expiring', 10);
      clock.advance(10);
      await store.release('unrelated', 'token');
      expect(store.size).toBe(2);
      // The expired entry still counts as absent.
      expect((await store.claim('expiring', 10)).status).toBe('claimed');
    });

    it('starts no timer', async () => {
      jest.useFakeTimers();
      try {
        const store = new MemoryDedupStore();
        const token = await claimToken(store, 'k');
        await store.complete('k', token, 1000);
        expect(jest.getTimerCount()).toBe(0);
      } finally {
        jest.useRealTimers();
      }
    });
  });

  it('close() forgets everything', async () => {
    const store = new MemoryDedupStore();
    const token = await claimToken(store, 'k');
    await store.complete('k', token, 60_000);
    await store.close();
    expect(store.size).toBe(0);
    expect((await store.claim('k', 60_000)).status).toBe('claimed');
  });
});
