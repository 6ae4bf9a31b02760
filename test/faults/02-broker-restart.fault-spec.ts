import type { INestApplicationContext } from '@nestjs/common';
import { MemoryDedupStore } from '@warren/rabbitmq';
import { TotalQueueChecker } from './support/checker';
import { faultUrl } from './support/fault-env';
import { recordFigures, since } from './support/figures';
import { bootApp, currentTest, faultName, RECORDER, recorderModule, resetLogger } from './support/harness';
import { NodeAdmin } from './support/node-admin';
import { amqpPort, ensureSolo, nodeCtl } from './support/nodes';
import { PublishStream, sleep, trace, until } from './support/stream';

// The outage (stop_app, a pause, start_app, reconnect) lasts longer than the publish timeout,
// so publishes made early in it must be rejected with a typed error, later ones confirmed.
const MESSAGES = 24_000;
const BURST = 12_000;
const RATE = 2_000;
const PUBLISH_TIMEOUT = 4_000;
const OUTAGE_MS = 3_000;

describe('fault 2: the broker application stops and starts', () => {
  const exchange = faultName('restart.x');
  const queue = faultName('restart.q');
  let skip: string | undefined;
  let admin: NodeAdmin | undefined;
  let app: INestApplicationContext | undefined;

  beforeAll(async () => {
    // A node of our own, not the default broker: other work on this machine keeps its broker.
    skip = await ensureSolo();
    if (!skip) admin = await NodeAdmin.connect(faultUrl(amqpPort('solo')));
  });

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    if (!skip) await nodeCtl('solo', 'start_app').catch(() => undefined);
    await admin?.deleteQueue(queue, `${queue}.dlq`);
    await admin?.deleteExchange(exchange);
    await admin?.close();
    resetLogger();
  });

  it('confirms or rejects (typed) every publish made while the broker is down, and loses no confirmed message', async () => {
    const started = Date.now();
    if (skip) {
      recordFigures({ id: '2', scenario: 'broker stop_app / start_app', test: currentTest(), durationMs: since(started), skipped: skip });
      process.stdout.write(`[faults] scenario 2 skipped: ${skip}\n`);
      return;
    }
    const checker = new TotalQueueChecker();
    const booted = await bootApp(
      recorderModule(
        {
          uri: faultUrl(amqpPort('solo')),
          connectionName: faultName('restart-app'),
          exchanges: [{ name: exchange, type: 'direct' }],
          publishOptions: { timeout: PUBLISH_TIMEOUT },
        },
        { exchange, queue, checker, prefetch: 20, workMs: 8, deadLetter: true, dedup: { store: new MemoryDedupStore(), lease: 5000 } },
      ),
      'fault-2',
    );
    app = booted.app;
    const { amqp } = booted;
    let connects = 0;
    let lostAt: number | undefined;
    let clientOutage: number | undefined;
    const subscription = amqp.status$.subscribe((status) => {
      if (status === 'disconnected') lostAt ??= Date.now();
      if (status === 'connected' && connects++ > 0) {
        checker.reconnected();
        if (lostAt !== undefined) clientOutage ??= Date.now() - lostAt;
      }
    });
    const stream = new PublishStream({
      count: MESSAGES,
      prefix: 'rs-',
      window: 1000,
      burst: BURST,
      rate: RATE,
      checker,
      publish: (id) => amqp.publish(exchange, queue, { id }, { messageId: id }),
    });
    const stopTrace = trace('fault-2', () => ({
      sent: stream.sent,
      confirmed: checker.confirmedCount,
      processed: checker.processedCount,
      status: amqp.status,
    }));

    await until(() => checker.inFlight >= 10_000, 10_000);
    const fault = checker.faultStarted('stop_app');
    await nodeCtl('solo', 'stop_app');
    const stoppedAt = Date.now();
    await sleep(OUTAGE_MS);
    await nodeCtl('solo', 'start_app');
    await nodeCtl('solo', 'await_startup');
    checker.faultCleared(fault);
    const outage = Date.now() - stoppedAt;

    const finished = await until(async () => {
      await Promise.race([stream.done, sleep(100)]);
      return stream.settled === stream.sent && stream.sent === MESSAGES;
    }, 60_000);
    await until(() => checker.settled, 60_000);
    await until(async () => (await admin?.messageCount(queue)) === 0, 10_000);
    await sleep(500);
    subscription.unsubscribe();
    stopTrace();
    checker.addAbsorbed(amqp.getHandlerStats()[RECORDER].duplicates);
    const figures = checker.report();
    const deadLettered = await admin?.messageCount(`${queue}.dlq`);

    recordFigures({
      id: '2',
      scenario: 'broker stop_app / start_app',
      test: currentTest(),
      figures,
      durationMs: since(started),
      notes: `broker down ${(outage / 1000).toFixed(1)} s (stop_app to start_app done), client disconnected ${((clientOutage ?? 0) / 1000).toFixed(1)} s; publish timeout ${PUBLISH_TIMEOUT / 1000} s; unsettled publishes ${figures.unsettled}; untyped rejections ${figures.untyped}; ${deadLettered} dead-lettered; dedup: memory store`,
    });

    expect(finished).toBe(true);
    expect(figures.unsettled).toBe(0);
    expect(figures.untyped).toBe(0);
    expect(figures.lost).toBe(0);
    expect(figures.lostIds).toEqual([]);
    expect(figures.duplicateSideEffects).toBe(0);
    expect(figures.unexpected).toBe(0);
    expect(deadLettered).toBe(0);
  });
});
