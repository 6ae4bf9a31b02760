import { Inject, Injectable } from '@nestjs/common';
import { messageIdFrom, PARTITION_HEADER, PARTITION_SLOTS, partitionOf } from '@warren/rabbitmq';
import { Outbox } from '@warren/rabbitmq/outbox';
import type { Pool } from 'pg';
import type { Order, OrderCreatedEvent, OrderPaidEvent, ReceiptDocument } from './contracts';
import { ORDERS_DB } from './sample-database.module';
import type { SampleNames } from './sample-names';
import { SAMPLE_NAMES } from './sample.tokens';

/** What the outbox did for the orders of this deployment (the demo prints it). */
export interface OutboxSummary {
  /** Accepted orders in PostgreSQL. */
  orders: number;
  /** Events the relay published (confirmed): order.created, order.paid and receipts. */
  published: number;
  /** Written, not published yet. */
  pending: number;
  /**
   * Orders (of the retention window) without their event in the outbox: accepted without
   * order.created, or paid without order.paid. Must be 0: one transaction writes both.
   */
  ordersWithoutEvent: number;
  /** Commit-to-confirm latency of the published events, ms. */
  latencyP50Ms: number | undefined;
  latencyP99Ms: number | undefined;
}

/**
 * The orders of record in PostgreSQL. Accepting an order writes its row and its order.created
 * event in ONE transaction (the transactional outbox), and so does paying it (the row's state
 * and payment id, order.paid and the receipt): the relay publishes the events after the commit,
 * so no order is left without its event, whatever crashes.
 */
@Injectable()
export class OrderLedger {
  constructor(
    @Inject(ORDERS_DB) private readonly pool: Pool,
    private readonly outbox: Outbox,
    @Inject(SAMPLE_NAMES) private readonly names: SampleNames,
  ) {}

  /**
   * Records the accepted order and its order.created; returns the event's messageId. Idempotent:
   * an order already recorded (a repeated request after a crash) writes nothing a second time.
   */
  async accept(order: Order, totalCents: number): Promise<{ messageId: string; written: boolean }> {
    const messageId = messageIdFrom('order.created', order.id);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const inserted = await client.query(
        `INSERT INTO ${this.names.database.orders} (id, customer_id, total_cents, state) VALUES ($1, $2, $3, 'accepted') ON CONFLICT (id) DO NOTHING RETURNING id`,
        [order.id, order.customerId, totalCents],
      );
      if (inserted.rowCount === 1) {
        const event: OrderCreatedEvent = { orderId: order.id, customerId: order.customerId, items: order.items, totalCents, express: order.express };
        await this.outbox.publish(client, this.names.exchanges.orders, this.names.routingKeys.orderCreated, event, {
          messageId,
          aggregateKey: order.id,
          // The partition key of a partitioned payments queue (what publish(..., { partitionKey }) sets); ignored elsewhere.
          headers: { [PARTITION_HEADER]: String(partitionOf(order.id, PARTITION_SLOTS)) },
        });
      }
      await client.query('COMMIT');
      return { messageId, written: inserted.rowCount === 1 };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Records the payment and writes order.paid (priority 9 for express orders, for the shipping
   * queue) and the receipt. Idempotent: an order already paid in the database writes nothing.
   */
  async paid(order: Order, paymentId: string): Promise<{ written: boolean }> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const updated = await client.query<{ total_cents: number }>(
        `UPDATE ${this.names.database.orders} SET state = 'paid', payment_id = $2, updated_at = now() WHERE id = $1 AND state <> 'paid' RETURNING total_cents`,
        [order.id, paymentId],
      );
      if (updated.rowCount === 0) {
        const found = await client.query<{ state: string }>(`SELECT state FROM ${this.names.database.orders} WHERE id = $1`, [order.id]);
        await client.query('COMMIT');
        if (found.rows[0]?.state === 'paid') return { written: false };
        throw new Error(`order ${order.id} is not recorded in the database; it was never accepted through the outbox`);
      }
      const totalCents = updated.rows[0].total_cents;
      const event: OrderPaidEvent = { orderId: order.id, customerId: order.customerId, paymentId, totalCents, express: order.express };
      await this.outbox.publish(client, this.names.exchanges.orders, this.names.routingKeys.orderPaid, event, {
        messageId: messageIdFrom('order.paid', order.id),
        priority: order.express ? 9 : 1,
        aggregateKey: order.id,
      });
      const receipt: ReceiptDocument = { orderId: order.id, customerId: order.customerId, paymentId, totalCents };
      await this.outbox.publish(client, this.names.exchanges.documents, '', receipt, {
        messageId: messageIdFrom('receipt', order.id),
        headers: { kind: 'receipt', format: 'pdf' },
      });
      await client.query('COMMIT');
      return { written: true };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async summary(): Promise<OutboxSummary> {
    const { orders, outbox } = this.names.database;
    const { rows } = await this.pool.query<{
      orders: number;
      published: number;
      pending: number;
      without_event: number;
      p50: number | null;
      p99: number | null;
    }>(
      `SELECT (SELECT count(*) FROM ${orders})::int AS orders,
              count(*) FILTER (WHERE o.status = 'sent')::int AS published,
              count(*) FILTER (WHERE o.status = 'pending')::int AS pending,
              (SELECT count(*) FROM ${orders} r WHERE r.created_at > now() - interval '1 day' AND (
                 NOT EXISTS (SELECT 1 FROM ${outbox} e WHERE e.aggregate_key = r.id AND e.routing_key = $1)
                 OR (r.state = 'paid' AND NOT EXISTS (SELECT 1 FROM ${outbox} e WHERE e.aggregate_key = r.id AND e.routing_key = $2))))::int AS without_event,
              (percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM o.sent_at - o.created_at)) FILTER (WHERE o.status = 'sent') * 1000)::float8 AS p50,
              (percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM o.sent_at - o.created_at)) FILTER (WHERE o.status = 'sent') * 1000)::float8 AS p99
         FROM ${outbox} o`,
      [this.names.routingKeys.orderCreated, this.names.routingKeys.orderPaid],
    );
    const row = rows[0];
    return {
      orders: row.orders,
      published: row.published,
      pending: row.pending,
      ordersWithoutEvent: row.without_event,
      latencyP50Ms: row.p50 ?? undefined,
      latencyP99Ms: row.p99 ?? undefined,
    };
  }
}
