import { Module, type DynamicModule } from '@nestjs/common';
import { RabbitMQModule, type QueueConfig, type QueueOptions } from '@warren/rabbitmq';
import { baseRabbitOptions } from '../../common/src/rabbitmq-options';
import type { SampleConfig } from '../../common/src/sample-config';
import { SampleCoreModule } from '../../common/src/sample-core.module';
import { HANDLERS, sampleNames } from '../../common/src/sample-names';
import { BroadcastListener } from './broadcast.listener';
import { NotificationLog } from './notification.log';
import { OrderEventsNotifier } from './order-events.notifier';
import { PaymentReminderHandler } from './payment-reminder.handler';
import { ReceiptMailer } from './receipt.mailer';
import { ShippingDesk } from './shipping.desk';

/**
 * The notifications service: one handler per exchange type of RabbitMQ —
 * topic (order.*), fanout (broadcasts), headers (receipts) — plus a priority
 * queue (shipping) and a delayed message through a TTL queue (reminders).
 */
@Module({})
export class NotificationsModule {
  static forRoot(config: SampleConfig): DynamicModule {
    const names = sampleNames(config.namespace);
    const quorum = config.queueType === 'quorum';
    const durable: QueueOptions = quorum ? { type: 'quorum' } : {};
    // x-max-priority is a classic-queue argument; quorum queues (3.12+) have two built-in levels (priority > 4 is "high").
    const shipping: QueueOptions = quorum ? { type: 'quorum' } : { maxPriority: 10 };
    const reminderWait: QueueConfig = {
      name: names.queues.reminderWait,
      messageTtl: config.reminderDelayMs,
      deadLetterExchange: names.exchanges.notifications,
      deadLetterRoutingKey: names.routingKeys.reminderDue,
      // Quorum queues dead-letter at-most-once unless told otherwise; a reminder should not vanish on a node failure.
      ...(quorum ? { type: 'quorum', overflow: 'reject-publish', arguments: { 'x-dead-letter-strategy': 'at-least-once' } } : {}),
    };
    return {
      module: NotificationsModule,
      imports: [
        SampleCoreModule.forRoot(config, 'notifications'),
        RabbitMQModule.forRoot({
          ...baseRabbitOptions(config, names, 'notifications'),
          queues: [reminderWait],
          handlers: {
            [HANDLERS.orderEvents]: { exchange: names.exchanges.orders, queue: names.queues.notificationEvents, queueOptions: durable },
            [HANDLERS.broadcast]: { exchange: names.exchanges.broadcast },
            [HANDLERS.receipts]: { exchange: names.exchanges.documents, queue: names.queues.receipts, queueOptions: durable },
            [HANDLERS.shipping]: { exchange: names.exchanges.orders, queue: names.queues.shipping, queueOptions: shipping },
            [HANDLERS.reminders]: { exchange: names.exchanges.notifications, queue: names.queues.reminders, queueOptions: durable },
          },
        }),
      ],
      providers: [NotificationLog, OrderEventsNotifier, BroadcastListener, ReceiptMailer, ShippingDesk, PaymentReminderHandler],
    };
  }
}
