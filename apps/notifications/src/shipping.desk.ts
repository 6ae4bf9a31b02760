import { Inject, Injectable } from '@nestjs/common';
import { RabbitPayload, RabbitRequest, RabbitSubscribe } from '@warren/rabbitmq';
import type { OrderPaidEvent } from '../../common/src/contracts';
import type { SampleConfig } from '../../common/src/sample-config';
import { HANDLERS } from '../../common/src/sample-names';
import { SAMPLE_CONFIG } from '../../common/src/sample.tokens';
import { Timeline } from '../../common/src/timeline';
import type { Delivery } from './delivery';
import { NotificationLog } from './notification.log';

/**
 * Hands paid orders to the warehouse, express ones first: the queue is a
 * priority queue and order.paid of an express order has priority 9. With a
 * prefetch of 1 a backlog forms on the broker, which delivers the highest priority first.
 */
@Injectable()
export class ShippingDesk {
  constructor(
    private readonly log: NotificationLog,
    private readonly timeline: Timeline,
    @Inject(SAMPLE_CONFIG) private readonly config: SampleConfig,
  ) {}

  @RabbitSubscribe({
    name: HANDLERS.shipping,
    exchange: 'orders',
    routingKey: 'order.paid',
    queue: 'notifications.shipping',
    queueOptions: { maxPriority: 10 },
    prefetch: 1,
    dedup: { ttl: 3_600_000 },
  })
  async ship(@RabbitPayload() paid: OrderPaidEvent, @RabbitRequest() delivery: Delivery): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.config.shippingWorkMs));
    const priority = delivery.properties.priority ?? 0;
    const text = paid.express ? 'express shipment booked (priority queue)' : 'shipment booked';
    await this.log.record({ channel: 'warehouse', kind: 'shipment', orderId: paid.orderId, text, priority });
    await this.timeline.record(paid.orderId, text, `message priority ${priority}`);
  }
}
