import { randomBytes } from 'node:crypto';
import { AmqpConnection } from '@warren/rabbitmq';
import { expectFirstPhase, fixAndReplay, placeOrders, planOrders, waitForQuiet, type PlacedOrder } from './support/order-scenario';
import { SampleHarness } from './support/sample-harness';

/**
 * The same 200 orders with two payments workers competing for the queue: dedup
 * in Redis (shared) must still keep every payment to one charge, including
 * redelivered events that reach the other worker while the first is charging.
 */
// The e2e project's `testTimeout` is not applied per project by Jest 30 (it is a global option): set it here.
jest.setTimeout(60_000);

describe('sample: order processing (two competing payments workers)', () => {
  let harness: SampleHarness;
  let placed: PlacedOrder[];

  beforeAll(async () => {
    harness = await SampleHarness.start({ paymentWorkers: 2 });
  });

  afterAll(async () => {
    await harness?.stop();
  });

  it('takes 200 orders to exactly the expected end state, each payment taken once', async () => {
    const tracker = await harness.trackEvents('order.created');
    placed = await placeOrders(harness, planOrders(200, randomBytes(4).toString('hex')));
    await waitForQuiet(harness, placed, 'payment_failed');
    await expectFirstPhase(harness, placed, await harness.drain(tracker));
  });

  it('shares the work between both workers', async () => {
    const handled = harness.payments.map((worker) => worker.get(AmqpConnection).getHandlerStats()['payments.charge']?.handled ?? 0);
    expect(handled.every((n) => n > 0)).toBe(true);
    const charges = await harness.charges();
    expect(new Set(charges.map((c) => c.instance))).toEqual(new Set(['payments-1', 'payments-2']));
  });

  it('completes the declined orders once their cards are fixed and the dead letters replayed', async () => {
    await fixAndReplay(harness, placed);
  });
});
