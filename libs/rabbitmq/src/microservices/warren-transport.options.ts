import type { ExchangeConfig, QueueOptions, RabbitMQModuleOptions } from '../options/rabbitmq-options.interface';
import type { RetryOptions } from '../options/retry-options.interface';
import type { DedupOptions } from '../options/dedup-store.interface';
import type { DeadLetterOptions } from '../options/dead-letter-options.interface';

/** The exchange patterns travel through unless `exchange` names another. */
export const DEFAULT_TRANSPORT_EXCHANGE = 'warren.microservices';

/**
 * The transport's exchanges: a topic exchange for patterns whose alternate
 * exchange collects what no queue is bound for, so a request or event with an
 * unknown pattern reaches the server's unrouted queue (and gets an error reply
 * or a dead letter) instead of vanishing. Server and client declare them alike.
 */
export function transportExchanges(exchange: string): ExchangeConfig[] {
  return [
    { name: unroutedName(exchange), type: 'fanout', options: { durable: true } },
    { name: exchange, type: 'topic', options: { durable: true, alternateExchange: unroutedName(exchange) } },
  ];
}

/** The alternate exchange and queue of unknown patterns. */
export function unroutedName(exchange: string): string {
  return `${exchange}.unrouted`;
}

/** Options shared by WarrenServer and WarrenClient. */
export interface WarrenTransportOptions extends Omit<RabbitMQModuleOptions, 'name'> {
  /** Topic exchange patterns are published to (the pattern is the routing key). @default 'warren.microservices' */
  exchange?: string;
}

/** WarrenServer options: a connection plus where and how handlers consume. */
export interface WarrenServerOptions extends WarrenTransportOptions {
  /** The queue of every `@MessagePattern` handler (dispatched by pattern). @default '<exchange>.requests' */
  queue?: string;
  /** Options of the request queue and of event queues. @default durable */
  queueOptions?: QueueOptions;
  /** Event queues are named `<eventQueuePrefix>.<pattern>` unless a handler's extras name one. @default '<exchange>.events' */
  eventQueuePrefix?: string;
}

/** Per-handler settings, given as extras: `@EventPattern('order.created', { queue, retry, deadLetter, dedup, prefetch })`. */
export interface WarrenPatternExtras {
  queue?: string;
  queueOptions?: QueueOptions;
  prefetch?: number;
  retry?: RetryOptions | false;
  deadLetter?: DeadLetterOptions | boolean;
  dedup?: DedupOptions | false;
}
