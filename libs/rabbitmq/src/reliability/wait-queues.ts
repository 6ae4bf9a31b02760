import type { Channel } from 'amqplib';
import type { TopologyDeclarer } from '../topology/topology-declarer';

/** Failed messages are published here, with routing key `<kind>.<delayMs>.<queue>`. */
export const RETRY_WAIT_EXCHANGE = 'warren.retry.wait';
/** Expired messages come back through here to the queue named in their routing key. */
export const RETRY_RETURN_EXCHANGE = 'warren.retry.return';

/** Classic wait queues for classic handler queues; quorum ones (replicated) for quorum handler queues. */
export type WaitQueueKind = 'classic' | 'quorum';

/** The wait queue of one delay level: `warren.retry.wait.<kind>.<delayMs>`. */
export function waitQueueName(kind: WaitQueueKind, delayMs: number): string {
  return `${RETRY_WAIT_EXCHANGE}.${kind}.${delayMs}`;
}

export function waitRoutingKey(kind: WaitQueueKind, delayMs: number, queue: string): string {
  return `${kind}.${delayMs}.${queue}`;
}

/**
 * Declares the wait queues for `levels` and binds the handler's queue to the
 * return exchange. Design: one queue per delay level with a queue-level TTL
 * (`x-message-ttl`), so every message in a queue expires in arrival order —
 * a 30 s wait never holds up a 1 s one (no head-of-line blocking, as per-message
 * TTLs in a shared queue would). On expiry the broker dead-letters the message
 * to the return exchange keeping its routing key `<kind>.<delay>.<queue>`; each
 * retrying queue is bound there with `*.*.<queue>`, so the message returns to
 * the failing handler's queue only, never to the other queues of its exchange.
 */
export async function declareWaitTopology(
  channel: Channel,
  topology: TopologyDeclarer,
  kind: WaitQueueKind,
  levels: readonly number[],
  queue: string,
): Promise<void> {
  await topology.declareExchange(channel, { name: RETRY_WAIT_EXCHANGE, type: 'topic', options: { durable: true } });
  await topology.declareExchange(channel, { name: RETRY_RETURN_EXCHANGE, type: 'topic', options: { durable: true } });
  for (const delay of levels) {
    const name = waitQueueName(kind, delay);
    await topology.declareQueue(channel, name, {
      durable: true,
      messageTtl: delay,
      deadLetterExchange: RETRY_RETURN_EXCHANGE,
      // Quorum queues dead-letter at-most-once unless asked; a waiting message must not be lost.
      ...(kind === 'quorum' ? { type: 'quorum' as const, overflow: 'reject-publish' as const, arguments: { 'x-dead-letter-strategy': 'at-least-once' } } : {}),
    });
    await topology.bindQueue(channel, name, { exchange: RETRY_WAIT_EXCHANGE, routingKey: `${kind}.${delay}.#` });
  }
  await topology.bindQueue(channel, queue, { exchange: RETRY_RETURN_EXCHANGE, routingKey: `*.*.${queue}` });
}
