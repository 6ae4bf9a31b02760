import type { ConsumeMessage } from 'amqplib';
import { DUPLICATE, GIVE_BACK } from '../consumer/failure-strategy';
import { emptyStats } from '../consumer/handler-stats';
import type { DedupStore } from '../options/dedup-store.interface';
import { MemoryDedupStore } from '../dedup/memory-dedup.store';
import { DedupKeyError } from '../errors/dedup-key.error';
import { isPermanent } from '../errors/permanent-failure';
import { DEFAULT_DEDUP_OPTIONS } from '../dedup/resolve-dedup-options';
import { StoreDedupGuard } from './store-dedup.guard';

const message = (messageId: string): ConsumeMessage =>
  ({ content: Buffer.alloc(0), fields: { routingKey: 'k' }, properties: { messageId, headers: {} } }) as unknown as ConsumeMessage;

const always = (): boolean => true;

function guard(lease: number) {
  const store = new MemoryDedupStore();
  return { store, guard: new StoreDedupGuard('Handler.run', { ...DEFAULT_DEDUP_OPTIONS, lease, store }, emptyStats()) };
}

describe('StoreDedupGuard', () => {
  it('waits, holding the delivery, for a claim whose owner died, and takes the key over when its lease ends', async () => {
    const { store, guard: g } = guard(300);
    await store.claim('Handler.run:m1', 300); // a consumer that crashed holding it
    const started = Date.now();
    const decision = await g.begin(message('m1'), undefined, always);
    expect(decision.run).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('acks the message as a duplicate when the other claim completes while it waits', async () => {
    const { store, guard: g } = guard(2_000);
    const other = await store.claim('Handler.run:m2', 2_000);
    setTimeout(() => void store.complete('Handler.run:m2', (other as { token: string }).token, 60_000), 100);
    const decision = await g.begin(message('m2'), undefined, always);
    expect(decision).toEqual({ run: false, settlement: DUPLICATE });
  });

  it('gives the message back after a whole lease when the key is still held (a live consumer slower than the lease)', async () => {
    const busy = { claim: async () => ({ status: 'in-progress' as const }), complete: async () => undefined, release: async () => undefined };
    const g = new StoreDedupGuard('Handler.run', { ...DEFAULT_DEDUP_OPTIONS, lease: 200, store: busy }, emptyStats());
    const started = Date.now();
    const decision = await g.begin(message('m3'), undefined, always);
    expect(decision).toEqual({ run: false, settlement: GIVE_BACK });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  });

  it('holds the delivery while the store is unreachable, asking again with a growing wait, and runs it once the store answers', async () => {
    const memory = new MemoryDedupStore();
    const calls: number[] = [];
    let down = true;
    const flaky: DedupStore = {
      claim: async (key, lease) => {
        calls.push(Date.now());
        if (down) throw new Error('ECONNREFUSED');
        return memory.claim(key, lease);
      },
      complete: (key, token, ttl) => memory.complete(key, token, ttl),
      release: (key, token) => memory.release(key, token),
    };
    const g = new StoreDedupGuard('Handler.run', { ...DEFAULT_DEDUP_OPTIONS, store: flaky }, emptyStats());
    setTimeout(() => (down = false), 1000);
    const decision = await g.begin(message('m4'), undefined, always);
    expect(decision.run).toBe(true);
    // 250 ms, then 500 ms, then 1000 ms: three failures, then the claim.
    expect(calls.length).toBe(4);
    expect(calls[2] - calls[1]).toBeGreaterThan(calls[1] - calls[0]);
  });

  it('gives a held delivery back promptly once it is no longer wanted (consumer stopping)', async () => {
    const down: DedupStore = {
      claim: async () => {
        throw new Error('ECONNREFUSED');
      },
      complete: async () => undefined,
      release: async () => undefined,
    };
    const g = new StoreDedupGuard('Handler.run', { ...DEFAULT_DEDUP_OPTIONS, store: down }, emptyStats());
    let wanted = true;
    setTimeout(() => (wanted = false), 1200);
    const started = Date.now();
    const decision = await g.begin(message('m5'), undefined, () => wanted);
    expect(decision).toEqual({ run: false, settlement: GIVE_BACK });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('fails the message for good with DedupKeyError when key() throws', async () => {
    const store = new MemoryDedupStore();
    const key = (m: { payload: unknown }) => (m.payload as { orderId: string }).orderId;
    const g = new StoreDedupGuard('Handler.run', { ...DEFAULT_DEDUP_OPTIONS, key, store }, emptyStats());
    const error = await g.begin(message('m6'), null, always).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DedupKeyError);
    expect(error).toMatchObject({ handler: 'Handler.run', code: 'NON_RETRYABLE' });
    expect(isPermanent(error)).toBe(true);
  });
});
