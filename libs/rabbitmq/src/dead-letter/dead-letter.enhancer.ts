import { Logger } from '@nestjs/common';
import type { Channel } from 'amqplib';
import type { RouteEnhancement, RouteEnhancer } from '../consumer/consumer-registry';
import type { FeatureHost } from '../consumer/feature-host';
import type { HandlerDescriptor } from '../consumer/handler-descriptor';
import type { HandlerRoute } from '../consumer/handler-route';
import type { QueueOptions } from '../options/rabbitmq-options.interface';
import type { DeadLetterOptions } from '../options/dead-letter-options.interface';
import { DeadLetterStrategy } from './dead-letter.strategy';

/** The dead-letter exchange used unless a handler names another. */
export const DEFAULT_DEAD_LETTER_EXCHANGE = 'warren.dlx';

/** The dead-letter options that apply to a handler, or undefined. Retry implies a dead-letter queue unless `deadLetter: false`. */
export function deadLetterOptionsOf(handler: HandlerDescriptor, host: FeatureHost): DeadLetterOptions | undefined {
  const config = handler.config;
  const option =
    config.deadLetter ?? host.options.defaultDeadLetter ?? (config.retry || (config.retry !== false && host.options.defaultRetry) ? true : undefined);
  if (!option) return undefined;
  return option === true ? {} : option;
}

/**
 * `deadLetter: true | { queue, exchange, ttl, maxLength }`: declares `<queue>.dlq`
 * bound to a direct dead-letter exchange, points the handler queue's own
 * dead-letter exchange at it (so `new Nack()`, TTL expiry and a quorum queue's
 * delivery limit land there too), and parks failures there with their reason.
 */
export class DeadLetterEnhancer implements RouteEnhancer {
  private readonly logger = new Logger('DeadLetter');

  constructor(private readonly host: FeatureHost) {}

  validate(handler: HandlerDescriptor): string[] {
    const options = deadLetterOptionsOf(handler, this.host);
    if (!options) return [];
    const problems: string[] = [];
    if (!handler.config.queue && !options.queue) {
      problems.push(`${handler.name}: deadLetter needs a named queue (set 'queue', or deadLetter.queue)`);
    }
    for (const field of ['ttl', 'maxLength'] as const) {
      const value = options[field];
      if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
        problems.push(`${handler.name}: deadLetter.${field} must be a non-negative integer (got ${String(value)})`);
      }
    }
    return problems;
  }

  /**
   * Points the handler queue's own dead-letter exchange at the DLQ. Quorum queues dead-letter
   * at-most-once unless asked; at-least-once needs `overflow: reject-publish`, set unless the handler chose an overflow.
   */
  private handlerQueueOptions(exchange: string, dlq: string, quorum: boolean, queueOptions: QueueOptions): QueueOptions {
    const options: QueueOptions = { deadLetterExchange: exchange, deadLetterRoutingKey: dlq };
    if (quorum && queueOptions.overflow === undefined && queueOptions.arguments?.['x-overflow'] === undefined) {
      options.overflow = 'reject-publish';
      options.arguments = { 'x-dead-letter-strategy': 'at-least-once' };
    }
    return options;
  }

  enhance(route: HandlerRoute, queue: string | undefined, queueOptions: QueueOptions): RouteEnhancement {
    const options = deadLetterOptionsOf(route.descriptor, this.host);
    if (!options) return { route };
    const dlq = options.queue ?? `${queue}.dlq`;
    const exchange = options.exchange ?? DEFAULT_DEAD_LETTER_EXCHANGE;
    const quorum = queueOptions.type === 'quorum';
    const setup = async (channel: Channel): Promise<void> => {
      const topology = this.host.topologyDeclarer;
      await topology.declareExchange(channel, { name: exchange, type: 'direct', options: { durable: true } });
      await topology.declareQueue(channel, dlq, {
        durable: true,
        messageTtl: options.ttl,
        maxLength: options.maxLength,
        type: quorum ? 'quorum' : undefined,
      });
      await topology.bindQueue(channel, dlq, { exchange, routingKey: dlq });
    };
    const ownDlx = queueOptions.deadLetterExchange === undefined && queueOptions.arguments?.['x-dead-letter-exchange'] === undefined;
    if (!ownDlx) {
      this.logger.debug(`${route.descriptor.name}: the queue has its own dead-letter exchange; broker-side dead letters go there`);
    }
    return {
      route: { ...route, failure: new DeadLetterStrategy(this.host, { exchange, queue: dlq }) },
      setup,
      queueOptions: ownDlx ? this.handlerQueueOptions(exchange, dlq, quorum, queueOptions) : undefined,
    };
  }
}
