import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DedupClaim, DedupStore } from '../options/dedup-store.interface';

/** How a contract run gets its store. */
export interface DedupStoreContractSubject {
  /** Creates the store under test; called once, before the tests. */
  create(): Promise<DedupStore> | DedupStore;
  /** Cleans up after the tests (delete keys, close clients). */
  destroy?(store: DedupStore): Promise<void> | void;
}

/** Polls `probe` until `accept` holds or `timeoutMs` passes; returns the last value. */
async function waitFor<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function tokenOf(claim: DedupClaim): string {
  if (claim.status !== 'claimed') throw new Error(`expected a claim, got ${claim.status}`);
  return claim.token;
}

/** Short enough to keep the suite fast, long enough not to expire between two calls of one test step. */
const SHORT_LEASE = 80;
const LONG = 60_000;

/**
 * The behaviour every `DedupStore` must have. Call it from a store's spec:
 * `describeDedupStoreContract('MemoryDedupStore', { create: () => new MemoryDedupStore() })`.
 */
export function describeDedupStoreContract(name: string, subject: DedupStoreContractSubject): void {
  describe(`${name} (DedupStore contract)`, () => {
    let store: DedupStore;
    const key = (label: string): string => `${label}:${randomUUID()}`;

    beforeAll(async () => {
      store = await subject.create();
    });

    afterAll(async () => {
      if (store) await subject.destroy?.(store);
    });

    it('claims a new key with a token, then reports it in progress', async () => {
      const k = key('fresh');
      const first = await store.claim(k, LONG);
      expect(first.status).toBe('claimed');
      expect(tokenOf(first)).toEqual(expect.any(String));
      expect(tokenOf(first).length).toBeGreaterThan(0);
      expect(await store.claim(k, LONG)).toEqual({ status: 'in-progress' });
    });

    it('reports a completed key as a duplicate', async () => {
      const k = key('done');
      await store.complete(k, tokenOf(await store.claim(k, LONG)), LONG);
      expect(await store.claim(k, LONG)).toEqual({ status: 'duplicate' });
      expect(await store.claim(k, LONG)).toEqual({ status: 'duplicate' });
    });

    it('keeps keys independent', async () => {
      const a = key('a');
      const b = key('b');
      await store.complete(a, tokenOf(await store.claim(a, LONG)), LONG);
      expect((await store.claim(b, LONG)).status).toBe('claimed');
    });

    it('lets a retry claim a released key, with a new token', async () => {
      const k = key('release');
      const first = tokenOf(await store.claim(k, LONG));
      await store.release(k, first);
      const second = await store.claim(k, LONG);
      expect(second.status).toBe('claimed');
      expect(tokenOf(second)).not.toBe(first);
    });

    it('ignores complete and release with a token that does not own the key', async () => {
      const k = key('foreign');
      const owner = tokenOf(await store.claim(k, LONG));
      await store.complete(k, 'not-the-owner', LONG);
      expect(await store.claim(k, LONG)).toEqual({ status: 'in-progress' });
      await store.release(k, 'not-the-owner');
      expect(await store.claim(k, LONG)).toEqual({ status: 'in-progress' });
      await store.complete(k, owner, LONG);
      expect(await store.claim(k, LONG)).toEqual({ status: 'duplicate' });
    });

    it('does not release a completed key', async () => {
      const k = key('done-release');
      const token = tokenOf(await store.claim(k, LONG));
      await store.complete(k, token, LONG);
      await store.release(k, token);
      expect(await store.claim(k, LONG)).toEqual({ status: 'duplicate' });
    });

    it('lets a new claim in once the lease ends', async () => {
      const k = key('lease');
      tokenOf(await store.claim(k, SHORT_LEASE));
      const next = await waitFor(
        () => store.claim(k, LONG),
        (claim) => claim.status === 'claimed',
      );
      expect(next.status).toBe('claimed');
    });

    it('never lets an expired claim complete over the claim that took it over', async () => {
      const k = key('takeover-complete');
      const stale = tokenOf(await store.claim(k, SHORT_LEASE));
      const current = tokenOf(
        await waitFor(
          () => store.claim(k, LONG),
          (claim) => claim.status === 'claimed',
        ),
      );
      await store.complete(k, stale, LONG);
      expect(await store.claim(k, LONG)).toEqual({ status: 'in-progress' });
      await store.complete(k, current, LONG);
      expect(await store.claim(k, LONG)).toEqual({ status: 'duplicate' });
    });

    it('never lets an expired claim release the claim that took it over', async () => {
      const k = key('takeover-release');
      const stale = tokenOf(await store.claim(k, SHORT_LEASE));
      tokenOf(
        await waitFor(
          () => store.claim(k, LONG),
          (claim) => claim.status === 'claimed',
        ),
      );
      await store.release(k, stale);
      expect(await store.claim(k, LONG)).toEqual({ status: 'in-progress' });
    });

    it('marks a key done when its lease ended and nobody took it over (the work did succeed)', async () => {
      const k = key('late-complete');
      const token = tokenOf(await store.claim(k, 30));
      await sleep(100);
      await store.complete(k, token, LONG);
      expect(await store.claim(k, LONG)).toEqual({ status: 'duplicate' });
    });

    it('forgets a completed key after its TTL', async () => {
      const k = key('ttl');
      await store.complete(k, tokenOf(await store.claim(k, LONG)), 250);
      expect(await store.claim(k, LONG)).toEqual({ status: 'duplicate' });
      const later = await waitFor(
        () => store.claim(k, LONG),
        (claim) => claim.status === 'claimed',
      );
      expect(later.status).toBe('claimed');
    });

    it('grants exactly one of many concurrent claims', async () => {
      const k = key('race');
      const claims = await Promise.all(Array.from({ length: 20 }, () => store.claim(k, LONG)));
      expect(claims.filter((claim) => claim.status === 'claimed')).toHaveLength(1);
      expect(claims.filter((claim) => claim.status === 'in-progress')).toHaveLength(19);
    });

    it('accepts keys with any characters', async () => {
      const k = key('ordér/ 42:*?[]{}"\'\\');
      const token = tokenOf(await store.claim(k, LONG));
      await store.complete(k, token, LONG);
      expect(await store.claim(k, LONG)).toEqual({ status: 'duplicate' });
    });
  });
}
