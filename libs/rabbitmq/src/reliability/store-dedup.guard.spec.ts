import type { ConsumeMessage } from 'amqplib';
import { DUPLICATE, REQUEUE } from '../consumer/failure-strategy';
import { emptyStats } from '../consumer/handler-stats';
import { MemoryDedupStore } from '../dedup/memory-dedup.store';
import { DEFAULT_DEDUP_OPTIONS } from '../dedup/resolve-dedup-options';
import { StoreDedupGuard } from './store-dedup.guard';

const message = (messageId: string): ConsumeMessage =>
  ({ content: Buffer.alloc(0), fields: { routingKey: 'k' }, properties: { messageId, headers: {} } }) as unknown as ConsumeMessage;

function guard(lease: number) {
  const store = new MemoryDedupStore();
  return { store, guard: new StoreDedupGuard('Handler.run', { ...DEFAULT_DEDUP_OPTIONS, lease, store }, emptyStats()) };
}

describe('StoreDedupGuard', () => {
  it('waits, holding the delivery, for a claim whose owner died, and takes the key over when its lease ends', async () => {
    const { store, guard: g } = guard(300);
    await store.claim('Handler.run:m1', 300); // a consumer that crashed holding it
    const started = Date.now();
    const decision = await g.begin(message('m1'), undefined);
    expect(decision.run).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('acks the message as a duplicate when the other claim completes while it waits', async () => {
    const { store, guard: g } = guard(2_000);
    const other = await store.claim('Handler.run:m2', 2_000);
    setTimeout(() => void store.complete('Handler.run:m2', (other as { token: string }).token, 60_000), 100);
    const decision = await g.begin(message('m2'), undefined);
    expect(decision).toEqual({ run: false, settlement: DUPLICATE });
  });

  it('gives the message back after a whole lease when the key is still held (a live consumer slower than the lease)', async () => {
    const busy = { claim: async () => ({ status: 'in-progress' as const }), complete: async () => undefined, release: async () => undefined };
    const g = new StoreDedupGuard('Handler.run', { ...DEFAULT_DEDUP_OPTIONS, lease: 200, store: busy }, emptyStats());
    const started = Date.now();
    const decision = await g.begin(message('m3'), undefined);
    expect(decision).toEqual({ run: false, settlement: REQUEUE });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  });
});
