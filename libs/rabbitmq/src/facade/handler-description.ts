import type { HandlerKind } from '../consumer/handler-descriptor';
import type { HandlerStats } from '../consumer/handler-stats';

/** What a handler consumes and where its failures go: for dashboards and operators. */
export interface HandlerDescription {
  /** `Class.method` unless the config names it. */
  name: string;
  kind: HandlerKind;
  /** The queue it consumes; the broker-assigned name for a server-named queue ('' until declared). */
  queue: string;
  /** Exchange and routing key (or pattern) of each binding of the queue. */
  bindings: Array<{ exchange: string; routingKey: string }>;
  /** Unacked deliveries the consumer may hold (0: no limit). */
  prefetch: number;
  /** `consuming` while its consumer runs; `cancelled` after cancelConsumer(); `waiting` while its channel is (re)opening. */
  state: 'consuming' | 'cancelled' | 'waiting';
  /** Deliveries of its queue being handled in this process now. */
  inFlight: number;
  /** The dead-letter queue its failures are parked in, when it has one. */
  deadLetterQueue?: string;
  /** The retry wait queues it may send a failure to (`warren.retry.wait.<kind>.<delayMs>`), shortest delay first. */
  retryWaitQueues: Array<{ queue: string; delayMs: number }>;
  stats: HandlerStats;
}
