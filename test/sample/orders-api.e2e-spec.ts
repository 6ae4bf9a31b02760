import { AmqpConnection } from '@warren/rabbitmq';
import { HANDLERS } from '../../apps/common/src/sample-names';
import { waitFor } from '../support/broker';
import { SampleHarness } from './support/sample-harness';

// The e2e project's `testTimeout` is not applied per project by Jest 30 (it is a global option): set it here.
jest.setTimeout(60_000);

/** The orders HTTP API around the happy path: validation, idempotency keys, errors, admin and health endpoints. */
describe('sample: orders API', () => {
  let harness: SampleHarness;
  const order = (clientOrderId: string, extra: Record<string, unknown> = {}) => ({
    customerId: 'api-tester',
    clientOrderId,
    items: [{ sku: 'kettle', quantity: 1 }],
    ...extra,
  });

  beforeAll(async () => {
    harness = await SampleHarness.start({ notificationInstances: 2, config: { inventoryTimeoutMs: 800 } });
  });

  afterAll(async () => {
    await harness?.stop();
  });

  it('rejects invalid orders with every problem listed', async () => {
    const response = await harness.http.post('/orders', { customerId: '', items: [{ sku: 'Kettle!', quantity: 0 }], card: 'gold', extra: 1 });
    expect(response.status).toBe(400);
    expect(response.body.message).toEqual(
      expect.arrayContaining([
        'property extra should not exist',
        'customerId must be longer than or equal to 1 characters',
        'items.0.sku must be 1-40 lowercase letters, digits or dashes',
        'items.0.quantity must not be less than 1',
        'card must be one of the following values: ok, flaky, declined',
      ]),
    );
  });

  it('asks for an idempotency key, and accepts it as a header', async () => {
    const missing = await harness.http.post('/orders', { customerId: 'api-tester', items: [{ sku: 'kettle', quantity: 1 }] });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toContain('clientOrderId');

    const body = { customerId: 'api-tester', items: [{ sku: 'kettle', quantity: 1 }] };
    const first = await harness.http.post('/orders', body, { 'Idempotency-Key': 'header-key-1' });
    const again = await harness.http.post('/orders', body, { 'Idempotency-Key': 'header-key-1' });
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('location')).toBe(`/orders/${first.body.id}`);

    const conflicting = await harness.http.post('/orders', order('body-key'), { 'Idempotency-Key': 'other-key' });
    expect(conflicting.status).toBe(400);
  });

  it('refuses a reused clientOrderId with a different body', async () => {
    expect((await harness.http.post('/orders', order('reused'))).status).toBe(201);
    const reused = await harness.http.post('/orders', order('reused', { items: [{ sku: 'grinder', quantity: 2 }] }));
    expect(reused.status).toBe(422);
    expect(reused.body.message).toContain("clientOrderId 'reused' was already used for a different order");
  });

  it('rejects out-of-stock (409) and unknown products (422) with the rejected order', async () => {
    const outOfStock = await harness.http.post('/orders', order('oos', { items: [{ sku: 'sold-out-tin', quantity: 1 }] }));
    expect(outOfStock.status).toBe(409);
    expect(outOfStock.body).toMatchObject({
      error: 'OutOfStock',
      order: { state: 'rejected', reason: "out of stock: only 0 of 'sold-out-tin' in stock, 1 requested" },
    });
    const unknown = await harness.http.post('/orders', order('unknown-sku', { items: [{ sku: 'teapot', quantity: 1 }] }));
    expect(unknown.status).toBe(422);
    expect(unknown.body).toMatchObject({ error: 'UnknownProduct', order: { state: 'rejected', reason: "no product 'teapot' in the catalogue" } });
    const rejected = await harness.http.get('/orders?state=rejected');
    expect(rejected.body.map((o: { id: string }) => o.id).sort()).toEqual([outOfStock.body.order.id, unknown.body.order.id].sort());
  });

  it('shows an order with its timeline, 404 for an unknown one, and validates list queries', async () => {
    const created = await harness.http.post('/orders', order('timeline'));
    await waitFor(async () => (await harness.http.get(`/orders/${created.body.id}`)).body.state === 'paid', 'the order to be paid');
    const shown = await harness.http.get(`/orders/${created.body.id}`);
    expect(shown.body.timeline.map((e: { event: string }) => e.event)).toEqual(
      expect.arrayContaining(['order received', 'stock reserved', 'accepted', 'paid']),
    );
    expect((await harness.http.get('/orders/no-such-order')).status).toBe(404);
    expect((await harness.http.get('/orders?state=lost')).status).toBe(400);
    const patchPaid = await harness.http.patch(`/orders/${created.body.id}/payment-method`, { card: 'ok' });
    expect(patchPaid.status).toBe(409);
  });

  it('answers 503 while inventory is down, and the same request succeeds once it is back', async () => {
    await harness.stopInventory();
    try {
      const down = await harness.http.post('/orders', order('while-down'));
      expect(down.status).toBe(503);
      expect(down.body.message).toContain('retry the same request');
      expect((await harness.allOrders()).some((o) => o.clientOrderId === 'while-down')).toBe(false);
    } finally {
      await harness.startInventory();
    }
    const retried = await harness.http.post('/orders', order('while-down'));
    expect(retried.status).toBe(201);
  });

  it('reports health, queue depths and the services', async () => {
    await waitFor(async () => (await harness.http.get('/health')).body.services.length === 5, 'every service to report');
    const health = await harness.http.get('/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', rabbitmq: 'connected', redis: 'up' });
    expect(health.body.services.map((s: { service: string }) => s.service).sort()).toEqual([
      'inventory',
      'notifications',
      'notifications',
      'orders',
      'payments',
    ]);

    const queues = await harness.http.get('/admin/queues');
    const byName = Object.fromEntries(queues.body.map((q: { queue: string; consumers: number }) => [q.queue, q]));
    expect(byName[harness.names.queues.payments]).toMatchObject({ consumers: 1 });
    expect(byName[harness.names.queues.notificationEvents]).toMatchObject({ consumers: 2 });
    expect(byName[harness.names.queues.reminderWait]).toMatchObject({ consumers: 0 });
    expect(byName[harness.names.queues.paymentsDlq]).toMatchObject({ messages: 0 });
  });

  it('only shows existing dead-letter queues', async () => {
    expect((await harness.http.get(`/admin/dead-letters/${harness.names.queues.payments}`)).status).toBe(400);
    expect((await harness.http.get(`/admin/dead-letters/${harness.config.namespace}nothing.dlq`)).status).toBe(404);
    expect((await harness.http.post(`/admin/dead-letters/${harness.names.queues.paymentsDlq}/replay`, { limit: 0 })).status).toBe(400);
  });

  it('ships express orders first once a backlog forms (priority queue)', async () => {
    const consumers = harness.notifications.map((app) => app.get(AmqpConnection));
    for (const amqp of consumers) await amqp.cancelConsumer(HANDLERS.shipping);
    const shipped = async () => (await harness.notificationsSent()).filter((n) => n.kind === 'shipment');
    const before = (await shipped()).length;
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const express = i >= 6; // the last two placed
      const response = await harness.http.post('/orders', order(`backlog-${i}`, { express }));
      expect(response.status).toBe(201);
      ids.push(response.body.id);
    }
    // Every one of these orders paid and its order.paid relayed by the outbox (confirmed, so in the queue);
    // the queue may also hold a late event of an earlier test's order, which the filter below leaves out.
    await waitFor(
      async () => {
        const states = await Promise.all(ids.map(async (id) => (await harness.http.get(`/orders/${id}`)).body.state));
        if (states.some((state) => state !== 'paid')) return false;
        if ((await harness.http.get('/admin/summary')).body.outbox.pending !== 0) return false;
        return ((await harness.admin.messageCount(harness.names.queues.shipping)) ?? 0) >= 8;
      },
      'eight paid orders waiting for shipping',
      30_000,
    );
    // One consumer with prefetch 1: the broker hands out the highest priority first.
    await consumers[0].resumeConsumer(HANDLERS.shipping);
    // Only this test's orders: a shipment of an earlier test's order can still be finishing (a handler in
    // flight when the consumers were cancelled, or an event the outbox relayed late).
    const shipments = await waitFor(async () => {
      const mine = (await shipped()).slice(before).filter((s) => s.orderId !== undefined && ids.includes(s.orderId));
      return mine.length === 8 ? mine : undefined;
    }, 'eight shipments');
    expect(
      shipments
        .slice(0, 2)
        .map((s) => s.orderId)
        .sort(),
    ).toEqual(ids.slice(6).sort());
    expect(shipments.slice(0, 2).map((s) => s.priority)).toEqual([9, 9]);
    expect(shipments.slice(2).map((s) => s.orderId)).toEqual(ids.slice(0, 6));
    for (const amqp of consumers.slice(1)) await amqp.resumeConsumer(HANDLERS.shipping);
  });

  it('delivers a broadcast to every notifications instance (fanout)', async () => {
    expect((await harness.http.post('/admin/broadcast', { message: 'closing at 22:00' })).status).toBe(202);
    const broadcasts = await waitFor(async () => {
      const received = (await harness.notificationsSent()).filter((n) => n.kind === 'broadcast');
      return received.length >= 2 ? received : undefined;
    }, 'two copies of the broadcast');
    expect(broadcasts.map((b) => b.instance).sort()).toEqual(['notifications-1', 'notifications-2']);
  });
});
