import type { DedupMessage } from '../options/dedup-store.interface';
import { MemoryDedupStore } from './memory-dedup.store';
import { DEFAULT_DEDUP_OPTIONS, messageIdDedupKey, resolveDedupOptions } from './resolve-dedup-options';

function message(properties: Record<string, unknown>): DedupMessage {
  return { payload: { id: 1 }, properties, headers: {}, routingKey: 'orders.created' };
}

describe('messageIdDedupKey', () => {
  it('uses the AMQP messageId', () => {
    expect(messageIdDedupKey(message({ messageId: 'order-42' }))).toBe('order-42');
  });

  it('gives no key without a usable messageId', () => {
    expect(messageIdDedupKey(message({}))).toBeUndefined();
    expect(messageIdDedupKey(message({ messageId: '' }))).toBeUndefined();
    expect(messageIdDedupKey(message({ messageId: 42 }))).toBeUndefined();
    expect(messageIdDedupKey({ ...message({}), properties: undefined as unknown as Record<string, unknown> })).toBeUndefined();
  });
});

describe('resolveDedupOptions', () => {
  it('applies the defaults: messageId key, 24 h TTL, 30 s lease, no store', () => {
    const resolved = resolveDedupOptions(undefined);
    expect(resolved).toEqual({ key: messageIdDedupKey, ttl: 86_400_000, lease: 30_000 });
    expect('store' in resolved).toBe(false);
    expect(Object.isFrozen(DEFAULT_DEDUP_OPTIONS)).toBe(true);
  });

  it('lets handler options win over module defaults, field by field', () => {
    const key = (): string => 'k';
    const store = new MemoryDedupStore();
    expect(resolveDedupOptions({ ttl: 5000 }, { ttl: 1, lease: 2000, key, store })).toEqual({ key, ttl: 5000, lease: 2000, store });
  });
});
