import type { RabbitHandlerConfig } from '../options/rabbitmq-options.interface';
import { RabbitHandler } from './rabbit-handler.decorator';

/**
 * Consumes messages: binds `queue` to `exchange` with `routingKey` and calls the
 * method with each message. Returning acks; returning `new Nack()` rejects;
 * throwing retries or dead-letters as configured.
 *
 * @example
 * ```ts
 * @RabbitSubscribe({ exchange: 'orders', routingKey: 'order.created', queue: 'billing.order-created' })
 * async onOrderCreated(order: OrderCreated) { ... }
 * ```
 */
export function RabbitSubscribe(config: RabbitHandlerConfig = {}): MethodDecorator {
  return RabbitHandler({ ...config, kind: 'subscribe' });
}
