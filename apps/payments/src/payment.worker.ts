import { Inject, Injectable } from '@nestjs/common';
import { AmqpConnection, NonRetryableError, RabbitHeader, RabbitPayload, RabbitSubscribe, WARREN_HEADERS } from '@warren/rabbitmq';
import type { Redis } from 'ioredis';
import type { Order, OrderCreatedEvent, OrderPaymentFailedEvent } from '../../common/src/contracts';
import { formatCents } from '../../common/src/money';
import { OrderLedger } from '../../common/src/order-ledger';
import { OrderStore } from '../../common/src/order.store';
import type { SampleConfig } from '../../common/src/sample-config';
import { HANDLERS, type SampleNames } from '../../common/src/sample-names';
import { REDIS, SAMPLE_CONFIG, SAMPLE_NAMES } from '../../common/src/sample.tokens';
import { Timeline } from '../../common/src/timeline';
import { CardDeclinedError } from './payment-gateway.errors';
import { PaymentGatewaySimulator, type Charge } from './payment-gateway.simulator';

/** What payments keeps about a payment it took. */
export interface PaymentRecord {
  orderId: string;
  paymentId: string;
  amountCents: number;
  attempt: number;
  instance: string;
  at: string;
}

/** One run of the payments handler for one delivery, as the cluster demo's order check reads it. */
export interface PaymentRun {
  orderId: string;
  instance: string;
  /** ms since the epoch. */
  startedAt: number;
  endedAt: number;
  outcome: 'paid' | 'failed';
}

/** Payments the order may be charged from: a replay after a fix starts from payment_failed. */
const PAYABLE = ['accepted', 'payment_failed'] as const;

/**
 * Takes the payment of every created order.
 *
 * - A gateway timeout is thrown as is: Warren retries it with exponential backoff
 *   (through a wait queue on the broker) up to `maxAttempts` deliveries.
 * - A declined card is final: `NonRetryableError` sends the message straight to
 *   `<queue>.dlq` with the reason, where an operator can inspect it and, once the
 *   customer has fixed their card, replay it.
 * - Dedup on the order id (in Redis, shared by every worker instance) makes sure
 *   two deliveries of the same order — a redelivery, a republished event, two
 *   workers — never run the charge side by side or after it succeeded.
 */
@Injectable()
export class PaymentWorker {
  private readonly paymentsKey: string;

  constructor(
    private readonly amqp: AmqpConnection,
    private readonly gateway: PaymentGatewaySimulator,
    private readonly orders: OrderStore,
    private readonly timeline: Timeline,
    private readonly ledger: OrderLedger,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SAMPLE_NAMES) private readonly names: SampleNames,
    @Inject(SAMPLE_CONFIG) private readonly config: SampleConfig,
  ) {
    this.paymentsKey = names.keys.payments;
  }

  // Names, queue type and retry delays are per deployment: PaymentsModule overrides them (see `handlers`).
  @RabbitSubscribe({
    name: HANDLERS.paymentsCharge,
    exchange: 'orders',
    routingKey: 'order.created',
    queue: 'payments.order-created',
    retry: { maxAttempts: 4, backoff: { type: 'exponential', initialDelay: 1000, multiplier: 2, maxDelay: 30_000, jitter: 0.2 } },
    deadLetter: true,
    dedup: { key: ({ payload }) => (payload as OrderCreatedEvent).orderId, ttl: 7 * 24 * 3_600_000, lease: 30_000 },
  })
  async charge(@RabbitPayload() event: OrderCreatedEvent, @RabbitHeader(WARREN_HEADERS.attempt) attemptHeader?: unknown): Promise<void> {
    const startedAt = Date.now();
    let outcome: PaymentRun['outcome'] = 'failed';
    try {
      await this.chargeOnce(event, attemptHeader);
      outcome = 'paid';
    } finally {
      // Every run, in the order runs end: a run of an order that starts before the previous run of that order ended is out of order.
      const run: PaymentRun = { orderId: event.orderId, instance: this.config.instanceId, startedAt, endedAt: Date.now(), outcome };
      await this.redis.rpush(this.names.keys.paymentRuns, JSON.stringify(run)).catch(() => undefined);
    }
  }

  private async chargeOnce(event: OrderCreatedEvent, attemptHeader: unknown): Promise<void> {
    const attempt = Number(attemptHeader ?? 1) || 1;
    const order = await this.orders.get(event.orderId);
    if (!order) throw new NonRetryableError(`order ${event.orderId} does not exist`);
    if (order.state === 'paid') {
      // Only reached when the previous run charged but could not finish (or dedup forgot the key): finish announcing.
      await this.timeline.record(order.id, 'already paid: not charged again', `attempt ${attempt}`);
      await this.announcePaid(order, order.paymentId ?? 'unknown');
      return;
    }
    if (!(PAYABLE as readonly string[]).includes(order.state)) {
      throw new NonRetryableError(`order ${order.id} is '${order.state}', it cannot be paid`);
    }

    let charge: Charge;
    try {
      charge = (await this.gateway.findCharge(order.id)) ?? (await this.gateway.charge(order.id, event.totalCents, order.cardToken));
    } catch (error) {
      if (error instanceof CardDeclinedError) {
        await this.markFailed(order, `card declined: ${error.reason}`, false, attempt);
        throw new NonRetryableError(`card declined: ${error.reason}`, { cause: error });
      }
      const last = attempt >= this.config.paymentRetry.maxAttempts;
      await this.timeline.record(order.id, `payment attempt ${attempt} failed`, `${(error as Error).message}; ${last ? 'no attempt left' : 'retry scheduled'}`);
      if (last) await this.markFailed(order, `gateway unavailable after ${attempt} attempts`, true, attempt);
      throw error;
    }

    const record: PaymentRecord = {
      orderId: order.id,
      paymentId: charge.chargeId,
      amountCents: charge.amountCents,
      attempt,
      instance: this.config.instanceId,
      at: charge.at,
    };
    await this.redis.hset(this.paymentsKey, order.id, JSON.stringify(record));
    const paid = await this.orders.transition(order.id, PAYABLE, { state: 'paid', paymentId: charge.chargeId, reason: null });
    if (!paid.applied) throw new Error(`order ${order.id} changed to '${paid.order?.state}' while it was being paid`);
    await this.timeline.record(
      order.id,
      'paid',
      `${formatCents(charge.amountCents)} on attempt ${attempt} (${charge.chargeId}, worker ${this.config.instanceId})`,
    );
    await this.announcePaid(paid.order, charge.chargeId);
  }

  /**
   * order.paid (express orders with a high priority, for the shipping queue) and the receipt (to
   * the headers exchange), written into the outbox in the transaction that records the payment in
   * PostgreSQL: the relay publishes both after the commit.
   */
  private async announcePaid(order: Order, paymentId: string): Promise<void> {
    await this.ledger.paid(order, paymentId);
  }

  private async markFailed(order: Order, reason: string, transient: boolean, attempt: number): Promise<void> {
    const failed = await this.orders.transition(order.id, PAYABLE, { state: 'payment_failed', reason });
    if (!failed.applied) return;
    await this.timeline.record(order.id, 'payment failed', `${reason} (attempt ${attempt}) -> dead-letter queue`);
    const event: OrderPaymentFailedEvent = { orderId: order.id, customerId: order.customerId, reason, transient };
    await this.amqp.publish(this.names.exchanges.orders, this.names.routingKeys.orderPaymentFailed, event);
  }
}
