import type { Order } from '../../../apps/common/src/contracts';
import { waitFor } from '../../support/broker';
import { mapLimit, type HttpResult } from './http-client';
import type { SampleHarness } from './sample-harness';

/** What an order of the scenario is meant to exercise. */
export type OrderKind = 'ok' | 'express' | 'flaky' | 'flaky3' | 'declined' | 'out-of-stock' | 'redelivered';

export interface PlannedOrder {
  index: number;
  kind: OrderKind;
  clientOrderId: string;
  body: Record<string, unknown>;
  /** Extra POSTs with the same clientOrderId after the first answer (a client retrying). */
  repeatPosts: number;
  /** A second POST sent at the same time as the first (a double click). */
  concurrentDuplicate: boolean;
}

export interface PlacedOrder extends PlannedOrder {
  id: string;
  responses: Array<HttpResult<Order & { order?: Order }>>;
}

const CARD: Record<OrderKind, string> = {
  ok: 'tok_ok',
  express: 'tok_ok',
  flaky: 'tok_flaky', // 2 gateway timeouts, then charged
  flaky3: 'tok_flaky_3', // 3 timeouts: charged on the 4th and last attempt
  declined: 'tok_declined',
  'out-of-stock': 'tok_ok',
  redelivered: 'tok_ok',
};

/** Per 20 orders: 10 ok, 2 express, 2 flaky, 1 flaky3, 2 declined, 2 out of stock, 1 redelivered. */
const PATTERN: OrderKind[] = [
  'ok',
  'ok',
  'ok',
  'ok',
  'ok',
  'ok',
  'ok',
  'ok',
  'ok',
  'ok',
  'express',
  'express',
  'flaky',
  'flaky',
  'flaky3',
  'declined',
  'declined',
  'out-of-stock',
  'out-of-stock',
  'redelivered',
];

/** `count` orders (a multiple of 20 keeps the mix exact) with repeated and concurrent duplicate POSTs. */
export function planOrders(count: number, runId: string): PlannedOrder[] {
  return Array.from({ length: count }, (_, index) => {
    const kind = PATTERN[index % PATTERN.length];
    const clientOrderId = `${runId}-${index}`;
    const sku = kind === 'out-of-stock' ? 'sold-out-tin' : ['espresso-beans', 'grinder', 'kettle', 'filter-papers'][index % 4];
    return {
      index,
      kind,
      clientOrderId,
      body: {
        customerId: `customer-${index % 37}`,
        clientOrderId,
        items: [{ sku, quantity: 1 + (index % 3) }],
        cardToken: CARD[kind],
        express: kind === 'express',
      },
      repeatPosts: index % 4 === 0 ? 1 : index % 9 === 0 ? 2 : 0,
      concurrentDuplicate: index % 6 === 3,
    };
  });
}

export const count = (orders: readonly PlannedOrder[], ...kinds: OrderKind[]): number => orders.filter((o) => kinds.includes(o.kind)).length;

const PAID_KINDS: OrderKind[] = ['ok', 'express', 'flaky', 'flaky3', 'redelivered'];

/** POSTs every order (16 clients at a time) with its duplicates; republishes order.created of the `redelivered` ones. */
export async function placeOrders(harness: SampleHarness, plan: PlannedOrder[]): Promise<PlacedOrder[]> {
  return mapLimit(plan, 16, async (planned) => {
    const post = (): Promise<HttpResult> => harness.http.post('/orders', planned.body);
    const responses = planned.concurrentDuplicate ? await Promise.all([post(), post()]) : [await post()];
    for (let i = 0; i < planned.repeatPosts; i++) responses.push(await post());
    const first = responses[0].body as Order & { order?: Order };
    const id = first.order?.id ?? first.id;
    if (planned.kind === 'redelivered') {
      // Right away: the copy may reach the other worker while the first delivery is still running.
      const republished = await harness.http.post(`/admin/orders/${id}/republish`);
      expect(republished.status).toBe(200);
    }
    return { ...planned, id, responses };
  });
}

/** Waits until every order is terminal, every paid one shipped and every declined one reminded. */
export async function waitForQuiet(harness: SampleHarness, placed: PlacedOrder[], declinedExpected: 'payment_failed' | 'paid'): Promise<void> {
  const paid = count(placed, ...PAID_KINDS) + (declinedExpected === 'paid' ? count(placed, 'declined') : 0);
  await waitFor(
    async () => {
      const orders = await harness.allOrders();
      const states = tally(orders.map((o) => o.state));
      const sent = await harness.notificationsSent();
      const shipped = new Set(sent.filter((n) => n.kind === 'shipment').map((n) => n.orderId)).size;
      const reminded = new Set(sent.filter((n) => n.kind === 'reminder').map((n) => n.orderId)).size;
      return (
        // A redelivered copy that arrived while its original was being charged waits (in-progress) and comes back later.
        harness.paymentStats().duplicates >= count(placed, 'redelivered') &&
        (states.paid ?? 0) === paid &&
        (states.rejected ?? 0) === count(placed, 'out-of-stock') &&
        shipped === paid &&
        (declinedExpected === 'paid' || ((states.payment_failed ?? 0) === count(placed, 'declined') && reminded === count(placed, 'declined')))
      );
    },
    `${paid} orders paid and shipped`,
    40_000,
    100,
  );
}

/** Asserts the end state of the first phase, exactly. `createdEvents`: the order.created payloads the broker routed. */
export async function expectFirstPhase(harness: SampleHarness, placed: PlacedOrder[], createdEvents: Array<{ orderId: string }>): Promise<void> {
  // One order.created per accepted order, two for the ones the test republished: repeated POSTs published nothing.
  const published = tally(createdEvents.map((e) => e.orderId));
  const expectedEvents = Object.fromEntries(placed.filter((o) => o.kind !== 'out-of-stock').map((o) => [o.id, o.kind === 'redelivered' ? 2 : 1]));
  expect(published).toEqual(expectedEvents);

  // Duplicate POSTs: same order id back, 200 (or 409 again for a rejected order), never a second order.
  for (const order of placed) {
    for (const response of order.responses) {
      const body = response.body;
      expect(body.order?.id ?? body.id).toBe(order.id);
    }
    const statuses = order.responses.map((r) => r.status);
    // A duplicate sent at the same time may see the order still being placed: 200 with state 'received'.
    if (order.kind === 'out-of-stock') expect(statuses[0] === 409 || statuses.includes(409)).toBe(true);
    else expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s !== 201 && s !== 200 && s !== 409)).toEqual([]);
  }
  const orders = await harness.allOrders();
  expect(orders).toHaveLength(placed.length);
  const byId = new Map(orders.map((o) => [o.id, o]));
  const expectedState = (kind: OrderKind): Order['state'] => (kind === 'declined' ? 'payment_failed' : kind === 'out-of-stock' ? 'rejected' : 'paid');
  for (const order of placed) expect(`${order.kind}:${byId.get(order.id)?.state}`).toBe(`${order.kind}:${expectedState(order.kind)}`);

  // Each payment taken once: one gateway charge per paid order, none for the others.
  const paidIds = placed.filter((o) => PAID_KINDS.includes(o.kind)).map((o) => o.id);
  await expectChargedExactlyOnce(harness, paidIds);

  // The DLQ holds exactly the declined payments, each with its reason.
  const declined = placed.filter((o) => o.kind === 'declined');
  const dlq = await harness.http.get(`/admin/dead-letters/${harness.names.queues.paymentsDlq}?limit=1000`);
  expect(dlq.status).toBe(200);
  expect(dlq.body.count).toBe(declined.length);
  expect(new Set(dlq.body.deadLetters.map((d: { payload: { orderId: string } }) => d.payload.orderId))).toEqual(new Set(declined.map((o) => o.id)));
  for (const letter of dlq.body.deadLetters) {
    expect(letter.reason).toMatchObject({
      errorName: 'NonRetryableError',
      errorMessage: 'card declined: card declined by the issuer',
      handler: 'payments.charge',
      attempts: 1,
      queue: harness.names.queues.payments,
      exchange: harness.names.exchanges.orders,
      routingKey: 'order.created',
    });
  }

  // The handlers' own counts: retries with backoff, dead letters, redeliveries absorbed by dedup.
  const stats = harness.paymentStats();
  expect(stats).toEqual({
    handled: paidIds.length,
    retried: 2 * count(placed, 'flaky') + 3 * count(placed, 'flaky3'),
    failed: 2 * count(placed, 'flaky') + 3 * count(placed, 'flaky3') + declined.length,
    deadLettered: declined.length,
    duplicates: count(placed, 'redelivered'),
  });

  // Notifications: receipts through the headers exchange, shipments through the priority queue, reminders through the TTL queue.
  const sent = await harness.notificationsSent();
  const of = (kind: string): string[] => sent.filter((n) => n.kind === kind).map((n) => n.orderId as string);
  expect(of('receipt').sort()).toEqual([...paidIds].sort());
  expect(of('shipment').sort()).toEqual([...paidIds].sort());
  expect(of('reminder').sort()).toEqual(declined.map((o) => o.id).sort());
  const expressIds = new Set(placed.filter((o) => o.kind === 'express').map((o) => o.id));
  for (const shipment of sent.filter((n) => n.kind === 'shipment')) expect(shipment.priority).toBe(expressIds.has(shipment.orderId as string) ? 9 : 1);
  // One "order received" mail per accepted order: repeated POSTs published nothing, the redelivered event was deduplicated.
  expect(of('order.created').sort()).toEqual(
    placed
      .filter((o) => o.kind !== 'out-of-stock')
      .map((o) => o.id)
      .sort(),
  );
}

/** Fixes the declined cards, replays the DLQ and asserts every accepted order ends paid, each charged once. */
export async function fixAndReplay(harness: SampleHarness, placed: PlacedOrder[]): Promise<void> {
  const declined = placed.filter((o) => o.kind === 'declined');
  for (const order of declined) {
    const fixed = await harness.http.patch(`/orders/${order.id}/payment-method`, { card: 'ok' });
    expect(fixed.status).toBe(200);
  }
  const replay = await harness.http.post(`/admin/dead-letters/${harness.names.queues.paymentsDlq}/replay`, {});
  expect(replay.status).toBe(200);
  expect(replay.body).toEqual({ replayed: declined.length, kept: 0, failed: [] });
  await waitForQuiet(harness, placed, 'paid');
  expect((await harness.http.get(`/admin/dead-letters/${harness.names.queues.paymentsDlq}`)).body.count).toBe(0);
  const orders = await harness.allOrders();
  expect(tally(orders.map((o) => o.state))).toEqual({ paid: placed.length - count(placed, 'out-of-stock'), rejected: count(placed, 'out-of-stock') });
  await expectChargedExactlyOnce(
    harness,
    placed.filter((o) => o.kind !== 'out-of-stock').map((o) => o.id),
  );
}

async function expectChargedExactlyOnce(harness: SampleHarness, orderIds: string[]): Promise<void> {
  const charges = await harness.charges();
  const charged = charges.map((c) => c.orderId);
  expect(charged).toHaveLength(new Set(charged).size);
  expect([...charged].sort()).toEqual([...orderIds].sort());
  expect(await harness.redis.hlen(harness.names.keys.payments)).toBe(orderIds.length);
}

export function tally(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
