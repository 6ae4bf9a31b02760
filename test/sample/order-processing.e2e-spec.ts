import { randomBytes } from 'node:crypto';
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

  it('completes the declined orders once their cards are fixed and the dead letters replayed', async () => {
    await fixAndReplay(harness, placed);
  });
});
