import { Injectable } from '@nestjs/common';
import { RabbitPayload, RabbitSubscribe } from '@warren/rabbitmq';
import type { PaymentReminder } from '../../common/src/contracts';
import { OrderStore } from '../../common/src/order.store';
import { HANDLERS } from '../../common/src/sample-names';
import { Timeline } from '../../common/src/timeline';
import { NotificationLog } from './notification.log';

/** Reminders come back here once their TTL ran out in the wait queue. */
@Injectable()
export class PaymentReminderHandler {
  constructor(
    private readonly orders: OrderStore,
    private readonly log: NotificationLog,
    private readonly timeline: Timeline,
  ) {}

  @RabbitSubscribe({
    name: HANDLERS.reminders,
    exchange: 'notifications',
    routingKey: 'reminder.payment',
    queue: 'notifications.reminders',
    dedup: { ttl: 3_600_000 },
  })
  async remind(@RabbitPayload() reminder: PaymentReminder): Promise<void> {
    const order = await this.orders.get(reminder.orderId);
    if (order?.state !== 'payment_failed') {
      await this.timeline.record(reminder.orderId, 'reminder not needed', `order is ${order?.state ?? 'gone'}`);
      return;
    }
    const text = 'reminder: your payment failed, please update your card';
    await this.log.record({ channel: 'email', kind: 'reminder', orderId: reminder.orderId, text });
    await this.timeline.record(reminder.orderId, `email: ${text}`, 'delayed through the TTL queue');
  }
}
