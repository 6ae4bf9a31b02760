import { Inject, Injectable } from '@nestjs/common';
import { DeadLetterService, type HandlerStats } from '@warren/rabbitmq';
import type { Redis } from 'ioredis';
import type { OrderState } from '../../../common/src/contracts';
import { OrderStore } from '../../../common/src/order.store';
import type { SampleNames } from '../../../common/src/sample-names';
import { REDIS, SAMPLE_NAMES } from '../../../common/src/sample.tokens';
import { ServiceRegistry } from '../../../common/src/service-registry';
import { OrderLedger, type OutboxSummary } from '../../../common/src/order-ledger';

/** The state of the whole system, for GET /admin/summary and the demo's closing table. */
export interface SystemSummary {
  orders: { total: number; byState: Record<OrderState, number> };
  payments: {
    /** Charges the gateway made. */
    charges: number;
    /** Orders the gateway charged more than once: must be 0. */
    chargedTwice: number;
    /** Payments recorded by the payments service. */
    recorded: number;
  };
  /** Handler statistics summed over every running (or recently stopped) instance. */
  handlers: Record<string, HandlerStats>;
  deadLetters: Record<string, number>;
  notifications: Record<string, number>;
  services: Array<{ service: string; instance: string; rabbitmq: string; stopped: boolean }>;
  /** The orders service's transactional outbox: events published, latency, orders without their event. */
  outbox: OutboxSummary;
}

@Injectable()
export class SummaryService {
  constructor(
    private readonly store: OrderStore,
    private readonly registry: ServiceRegistry,
    private readonly deadLetters: DeadLetterService,
    private readonly ledger: OrderLedger,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SAMPLE_NAMES) private readonly names: SampleNames,
  ) {}

  async summarize(): Promise<SystemSummary> {
    const [byState, total, charges, recorded, sent, reports, dlq, outbox] = await Promise.all([
      this.store.countByState(),
      this.store.count(),
      this.redis.lrange(this.names.keys.charges, 0, -1),
      this.redis.hlen(this.names.keys.payments),
      this.redis.lrange(this.names.keys.notifications, 0, -1),
      this.registry.all(),
      this.deadLetters.count(this.names.queues.paymentsDlq).catch(() => 0),
      this.ledger.summary(),
    ]);
    const perOrder = new Map<string, number>();
    for (const raw of charges) {
      const { orderId } = JSON.parse(raw) as { orderId: string };
      perOrder.set(orderId, (perOrder.get(orderId) ?? 0) + 1);
    }
    const notifications: Record<string, number> = {};
    for (const raw of sent) {
      const { kind } = JSON.parse(raw) as { kind: string };
      notifications[kind] = (notifications[kind] ?? 0) + 1;
    }
    return {
      orders: { total, byState },
      payments: { charges: charges.length, chargedTwice: [...perOrder.values()].filter((n) => n > 1).length, recorded },
      handlers: ServiceRegistry.totals(reports),
      deadLetters: { [this.names.queues.paymentsDlq]: dlq },
      notifications,
      services: reports.map(({ service, instance, rabbitmq, stopped }) => ({ service, instance, rabbitmq, stopped })),
      outbox,
    };
  }
}
