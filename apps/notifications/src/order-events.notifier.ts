import { Inject, Injectable } from '@nestjs/common';
import { AmqpConnection, RabbitPayload, RabbitRequest, RabbitSubscribe, WARREN_HEADERS, messageIdFrom } from '@warren/rabbitmq';
import type { OrderCreatedEvent, OrderPaidEvent, OrderPaymentFailedEvent, OrderRejectedEvent, PaymentReminder } from '../../common/src/contracts';
import { formatCents } from '../../common/src/money';
import type { SampleConfig } from '../../common/src/sample-config';
import { HANDLERS, type SampleNames } from '../../common/src/sample-names';
import { SAMPLE_CONFIG, SAMPLE_NAMES } from '../../common/src/sample.tokens';
import { Timeline } from '../../common/src/timeline';
import type { Delivery } from './delivery';
import { NotificationLog } from './notification.log';

type OrderEvent = OrderCreatedEvent | OrderRejectedEvent | OrderPaidEvent | OrderPaymentFailedEvent;

/**
 * Tells the customer about every order event (`order.*` on the topic exchange).
 * A failed payment also schedules a reminder: published straight to a queue
 * that has a TTL and no consumer, whose expired messages the broker
 * dead-letters to the notifications exchange, where PaymentReminderHandler gets them.
 */
@Injectable()
export class OrderEventsNotifier {
  constructor(
    private readonly amqp: AmqpConnection,
    private readonly log: NotificationLog,
    private readonly timeline: Timeline,
    @Inject(SAMPLE_NAMES) private readonly names: SampleNames,
    @Inject(SAMPLE_CONFIG) private readonly config: SampleConfig,
  ) {}

  // dedup on the AMQP messageId (the default key), in memory: a republished event does not mail the customer twice.
  @RabbitSubscribe({ name: HANDLERS.orderEvents, exchange: 'orders', routingKey: 'order.*', queue: 'notifications.order-events', dedup: { ttl: 3_600_000 } })
  async onOrderEvent(@RabbitPayload() event: OrderEvent, @RabbitRequest() delivery: Delivery): Promise<void> {
    const routingKey = (delivery.properties.headers?.[WARREN_HEADERS.originalRoutingKey] as string | undefined) ?? delivery.fields.routingKey;
    const text = this.describe(routingKey, event);
    if (text === undefined) return;
    await this.log.record({ channel: 'email', kind: routingKey, orderId: event.orderId, text });
    await this.timeline.record(event.orderId, `email: ${text}`);
    if (routingKey === this.names.routingKeys.orderPaymentFailed) {
      const failed = event as OrderPaymentFailedEvent;
      const reminder: PaymentReminder = { orderId: failed.orderId, customerId: failed.customerId };
      // The default exchange routes by queue name: straight into the TTL queue.
      await this.amqp.publish('', this.names.queues.reminderWait, reminder, {
        messageId: messageIdFrom('reminder', failed.orderId, delivery.properties.messageId),
      });
      await this.timeline.record(event.orderId, 'reminder scheduled', `in ${this.config.reminderDelayMs} ms (TTL queue)`);
    }
  }

  private describe(routingKey: string, event: OrderEvent): string | undefined {
    switch (routingKey) {
      case this.names.routingKeys.orderCreated:
        return `order received, ${formatCents((event as OrderCreatedEvent).totalCents)}`;
      case this.names.routingKeys.orderRejected:
        return `sorry, we could not take your order: ${(event as OrderRejectedEvent).reason}`;
      case this.names.routingKeys.orderPaid:
        return `payment received, thank you`;
      case this.names.routingKeys.orderPaymentFailed:
        return `payment failed: ${(event as OrderPaymentFailedEvent).reason}`;
      default:
        return undefined;
    }
  }
}
