import { randomBytes } from 'node:crypto';
import type { DeadLetterPage } from '@warren/rabbitmq/dashboard';
import { launchChromium } from '../support/browser';
import { count, expectFirstPhase, fixAndReplay, placeOrders, planOrders, waitForQuiet, type PlacedOrder } from './support/order-scenario';
import { SampleHarness } from './support/sample-harness';

/**
 * The sample end to end, one payments worker: 200 orders with repeated and
 * concurrent POSTs, transient gateway failures, declined cards, out-of-stock
 * items and a redelivered event; then the declined cards are fixed and the
 * dead-letter queue replayed.
 */
// The e2e project's `testTimeout` is not applied per project by Jest 30 (it is a global option): set it here.
jest.setTimeout(60_000);

describe('sample: order processing (one payments worker)', () => {
  let harness: SampleHarness;
  let placed: PlacedOrder[];
  let createdEvents: Array<{ orderId: string }>;

  beforeAll(async () => {
    harness = await SampleHarness.start({ paymentWorkers: 1 });
  });

  afterAll(async () => {
    await harness?.stop();
  });

  it('takes 200 orders to exactly the expected end state', async () => {
    const tracker = await harness.trackEvents('order.created');
    const plan = planOrders(200, randomBytes(4).toString('hex'));
    placed = await placeOrders(harness, plan);
    await waitForQuiet(harness, placed, 'payment_failed');
    createdEvents = await harness.drain(tracker);
    await expectFirstPhase(harness, placed, createdEvents);
    expect(count(placed, 'declined')).toBe(20);
  });

  it("shows the declined orders on the orders service's dashboard (/warren), customer ids masked", async () => {
    const dlq = harness.names.queues.paymentsDlq;
    const queues = await harness.http.get<Array<{ queue: string; messages: number | null }>>('/warren/api/dead-letters');
    expect(queues.body).toEqual([expect.objectContaining({ queue: dlq, messages: 20 })]);
    const page = await harness.http.get<DeadLetterPage>(`/warren/api/dead-letters/${encodeURIComponent(dlq)}?error=card%20declined`);
    expect(page.body).toMatchObject({ total: 20, matched: 20 });
    expect(
      page.body.items.every(
        (item) => item.reason.handler === 'payments.charge' && item.preview.text.includes('"customerId": "***"') && item.preview.masked === 1,
      ),
    ).toBe(true);
    const customers = new Set(placed.map((order) => String(order.body.customerId)));
    expect([...customers].filter((customer) => JSON.stringify(page.body.items).includes(`"${customer}"`))).toEqual([]);

    // Every page loads in a browser against the sample; the declined orders are found by their reason.
    const chromium = await launchChromium();
    try {
      const tab = await chromium.context.newPage();
      tab.setDefaultTimeout(15_000);
      for (const [path, heading] of [
        ['/warren', 'Handlers'],
        ['/warren/queues', 'Queues'],
        ['/warren/dead-letters', 'Dead letters'],
        ['/warren/connections', 'Connections'],
      ]) {
        expect((await tab.goto(`${harness.http.baseUrl}${path}`))?.status()).toBe(200);
        expect(await tab.locator('h1').textContent()).toBe(heading);
      }
      // The outbox's held rows next to the dead letters: none, every order's event went out.
      expect((await tab.goto(`${harness.http.baseUrl}/warren/outbox`))?.status()).toBe(200);
      expect(await tab.locator('h1').textContent()).toBe(`Outbox: ${harness.names.database.outbox}`);
      expect(await tab.locator('.empty').textContent()).toContain('No parked or failed rows');
      await tab.goto(`${harness.http.baseUrl}/warren/queues`);
      expect(await tab.locator(`tr[data-queue="${dlq}"] [data-stat="messages"]`).textContent()).toBe('20');
      await tab.goto(`${harness.http.baseUrl}/warren/dead-letters/${encodeURIComponent(dlq)}`);
      await tab.getByLabel('Error contains').fill('card declined');
      await tab.getByRole('button', { name: 'Filter' }).click();
      await tab.waitForURL(/error=card/);
      expect(await tab.locator('table.letters tbody tr').count()).toBe(20);
      expect(await tab.locator('.counts').textContent()).toContain('of 20 matching');
    } finally {
      await chromium.close();
    }
  });

  it('completes the declined orders once their cards are fixed and the dead letters replayed', async () => {
    await fixAndReplay(harness, placed);
  });
});
