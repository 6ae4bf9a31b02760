import { Logger } from '@nestjs/common';
import type { Channel } from 'amqplib';
import type { RouteEnhancement, RouteEnhancer } from '../consumer/consumer-registry';
import type { FeatureHost } from '../consumer/feature-host';
import type { HandlerDescriptor } from '../consumer/handler-descriptor';
import type { HandlerRoute } from '../consumer/handler-route';
import type { QueueOptions } from '../options/rabbitmq-options.interface';
import type { DeadLetterOptions } from '../options/dead-letter-options.interface';
import { isQuorum } from '../topology/queue-arguments';
import { DeadLetterStrategy } from './dead-letter.strategy';
import { ErrorHandlerStrategy } from '../consumer/error-handler.strategy';

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

  /**
   * A quorum queue with no delivery limit of its own has one of 20 from RabbitMQ 4.0, and past it the broker
   * drops the message unless the queue has a dead-letter exchange. So a handler's quorum queue without
   * `deliveryLimit` and without a dead-letter exchange gets the `<queue>.dlq` routing of `deadLetter: true`
   * even when the handler did not ask for it: the handler's failures are still settled as its
   * `errorBehavior` says, but what the broker dead-letters (the delivery limit, `new Nack()`, a rejected
   * failure) lands in the DLQ. `deadLetter: false` (or the module's `defaultDeadLetter: false`) opts out.
   */
  private impliedForQuorum(route: HandlerRoute, queue: string | undefined, queueOptions: QueueOptions): RouteEnhancement {
    const config = route.descriptor.config;
    const optedOut = config.deadLetter === false || (config.deadLetter === undefined && this.host.options.defaultDeadLetter === false);
    const limited = queueOptions.deliveryLimit !== undefined || queueOptions.arguments?.['x-delivery-limit'] !== undefined;
    const ownDlx = queueOptions.deadLetterExchange !== undefined || queueOptions.arguments?.['x-dead-letter-exchange'] !== undefined;
    if (optedOut || limited || ownDlx || queue === undefined || !isQuorum(queueOptions) || queueOptions.passive) return { route };
    const dlq = `${queue}.dlq`;
    return {
      route,
      setup: this.dlqSetup(DEFAULT_DEAD_LETTER_EXCHANGE, dlq, {}, true),
      queueOptions: this.handlerQueueOptions(DEFAULT_DEAD_LETTER_EXCHANGE, dlq, true, queueOptions),
    };
  }

  private dlqSetup(exchange: string, dlq: string, options: DeadLetterOptions, quorum: boolean): (channel: Channel) => Promise<void> {
    return async (channel: Channel): Promise<void> => {
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
  }

  enhance(route: HandlerRoute, queue: string | undefined, queueOptions: QueueOptions): RouteEnhancement {
    const options = deadLetterOptionsOf(route.descriptor, this.host);
    if (!options) return this.impliedForQuorum(route, queue, queueOptions);
    const dlq = options.queue ?? `${queue}.dlq`;
    const exchange = options.exchange ?? DEFAULT_DEAD_LETTER_EXCHANGE;
    const quorum = isQuorum(queueOptions);
    const setup = this.dlqSetup(exchange, dlq, options, quorum);
    // A stream takes no dead-letter arguments (the broker refuses the declaration); Warren's own dead-lettering still applies.
    const stream = queueOptions.type === 'stream' || queueOptions.arguments?.['x-queue-type'] === 'stream';
    const ownDlx = !stream && queueOptions.deadLetterExchange === undefined && queueOptions.arguments?.['x-dead-letter-exchange'] === undefined;
    if (!ownDlx && !stream) {
      this.logger.debug(`${route.descriptor.name}: the queue has its own dead-letter exchange; broker-side dead letters go there`);
    }
    const deadLetter = new DeadLetterStrategy(this.host, { exchange, queue: dlq });
    // An explicit errorHandler still decides first (explicit options win); what it leaves unsettled is dead-lettered.
    const errorHandler = route.descriptor.config.errorHandler;
    return {
      route: { ...route, failure: errorHandler ? new ErrorHandlerStrategy(errorHandler, deadLetter) : deadLetter },
      setup,
      queueOptions: ownDlx ? this.handlerQueueOptions(exchange, dlq, quorum, queueOptions) : undefined,
    };
  }
}
