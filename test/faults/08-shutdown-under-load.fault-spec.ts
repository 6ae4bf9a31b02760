import type { INestApplicationContext } from '@nestjs/common';
import { RabbitMQModule } from '@warren/rabbitmq';
import { BrokerAdmin } from '../support/broker';
import { TotalQueueChecker } from './support/checker';
import { faultUrl } from './support/fault-env';
import { recordFigures, since } from './support/figures';
import { bootApp, currentTest, faultName, RECORDER, recorderModule, resetLogger } from './support/harness';
import { PublishStream, sleep, trace, until } from './support/stream';

const MESSAGES = 24_000;
const BURST = 12_000;
const RATE = 2_000;

/**
 * A consumer application is closed (app.close()) in the middle of a stream another application
 * keeps publishing, and a new instance starts. Graceful shutdown alone — no dedup — must give
 * exactly-once processing: handlers in flight finish and are acked, deliveries that arrive
 * after the cancel go back untouched.
 */
describe('fault 8: shutdown under load', () => {
  const exchange = faultName('shutdown.x');
  const queue = faultName('shutdown.q');
  let admin: BrokerAdmin;
  const apps: INestApplicationContext[] = [];

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange);
    admin.track('queue', queue, `${queue}.dlq`);
  });

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    await admin.close();
    resetLogger();
  });

  it('app.close() mid-stream and a restart process every message exactly once, without dedup', async () => {
    const started = Date.now();
    const checker = new TotalQueueChecker();
    const consumer = () =>
      recorderModule(
        { uri: faultUrl(), connectionName: faultName('shutdown-consumer'), exchanges: [{ name: exchange, type: 'direct' }] },
        { exchange, queue, checker, prefetch: 50, workMs: 10, deadLetter: true },
      );
    const first = await bootApp(consumer(), 'fault-8-consumer-1');
    apps.push(first.app);
    const publisher = await bootApp(
      {
        imports: [
          RabbitMQModule.forRoot({ uri: faultUrl(), connectionName: faultName('shutdown-publisher'), exchanges: [{ name: exchange, type: 'direct' }] }),
        ],
      },
      'fault-8-publisher',
    );
    apps.push(publisher.app);
    const stream = new PublishStream({
      count: MESSAGES,
      prefix: 'sd-',
      window: 1000,
      burst: BURST,
      rate: RATE,
      checker,
      publish: (id) => publisher.amqp.publish(exchange, queue, { id }, { messageId: id }),
    });
    const stopTrace = trace('fault-8', () => ({ sent: stream.sent, confirmed: checker.confirmedCount, processed: checker.processedCount }));

    await until(() => checker.inFlight >= 10_000 && checker.processedCount > 1_000, 20_000);
    const fault = checker.faultStarted('app.close()');
    const closeStarted = Date.now();
    const handledByFirst = () => first.amqp.getHandlerStats()[RECORDER]?.handled ?? 0;
    await first.app.close();
    const closeMs = Date.now() - closeStarted;
    const firstHandled = handledByFirst();
    apps.splice(apps.indexOf(first.app), 1);
    const second = await bootApp(consumer(), 'fault-8-consumer-2');
    apps.push(second.app);
    checker.faultCleared(fault);
    checker.reconnected();

    await stream.done;
    await until(() => checker.settled, 60_000);
    await until(async () => (await admin.messageCount(queue)) === 0, 10_000);
    await sleep(500);
    stopTrace();
    const figures = checker.report();
    const twice = [...Array(MESSAGES).keys()].map((i) => `sd-${i}`).filter((id) => checker.deliveriesOf(id) > 1);
    const deadLettered = await admin.messageCount(`${queue}.dlq`);

    recordFigures({
      id: '8',
      scenario: 'app.close() under load, then a new instance',
      test: currentTest(),
      figures,
      durationMs: since(started),
      notes: `close took ${closeMs} ms; ${firstHandled} handled by the first instance, ${second.amqp.getHandlerStats()[RECORDER]?.handled ?? 0} by the second; no dedup; ${deadLettered} dead-lettered`,
    });

    expect(figures.lost).toBe(0);
    expect(figures.lostIds).toEqual([]);
    expect(figures.rejected).toBe(0);
    expect(figures.unexpected).toBe(0);
    expect(figures.duplicatedDeliveries).toBe(0);
    expect(twice).toEqual([]);
    expect(figures.duplicateSideEffects).toBe(0);
    expect(deadLettered).toBe(0);
  });
});
