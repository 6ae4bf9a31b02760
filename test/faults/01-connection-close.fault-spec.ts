import type { INestApplicationContext } from '@nestjs/common';
import { MemoryDedupStore } from '@warren/rabbitmq';
import { Redis } from 'ioredis';
import { BrokerAdmin, closeConnectionsNamed, REDIS_URL } from '../support/broker';
import { TotalQueueChecker } from './support/checker';
import { faultUrl } from './support/fault-env';
import { recordFigures, since } from './support/figures';
import { bootApp, currentTest, faultName, RECORDER, recorderModule, resetLogger } from './support/harness';
import { PublishStream, sleep, trace, until } from './support/stream';

// The consumer handles ~2,000 messages/s (20 in flight, 8 ms of work each); the publisher
// sends a 12,000-message burst, then keeps pace, so every close lands on a 10,000+ backlog.
const MESSAGES = 30_000;
const BURST = 12_000;
const RATE = 2_000;
const CLOSES = 5;

describe('fault 1: the broker closes the connection', () => {
  const exchange = faultName('close.x');
  const queue = faultName('close.q');
  const sideEffects = faultName('close.effects');
  let admin: BrokerAdmin;
  let redis: Redis;
  let app: INestApplicationContext | undefined;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange);
    admin.track('queue', queue, `${queue}.dlq`);
    redis = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await redis.del(sideEffects).catch(() => undefined);
    redis.disconnect();
    await admin.close();
    resetLogger();
  });

  it(`loses nothing and duplicates no side effect when the connection is closed ${CLOSES} times mid-stream`, async () => {
    const started = Date.now();
    const checker = new TotalQueueChecker();
    const connectionName = faultName('close-app');
    const booted = await bootApp(
      recorderModule(
        { uri: faultUrl(), connectionName, exchanges: [{ name: exchange, type: 'direct' }], publishOptions: { timeout: 20_000 } },
        {
          exchange,
          queue,
          checker,
          prefetch: 20,
          workMs: 8,
          deadLetter: true,
          dedup: { store: new MemoryDedupStore(), lease: 5000 },
          redis: { client: redis, key: sideEffects },
        },
      ),
      'fault-1',
    );
    app = booted.app;
    const { amqp } = booted;
    let connects = 0;
    const subscription = amqp.status$.subscribe((status) => {
      if (status === 'connected' && connects++ > 0) checker.reconnected();
    });

    const stream = new PublishStream({
      count: MESSAGES,
      prefix: 'cc-',
      window: 1000,
      burst: BURST,
      rate: RATE,
      checker,
      publish: (id) => amqp.publish(exchange, queue, { id }, { messageId: id }),
    });

    const stopTrace = trace('fault-1', () => ({
      sent: stream.sent,
      confirmed: checker.confirmedCount,
      processed: checker.processedCount,
      inFlight: checker.inFlight,
    }));
    let closed = 0;
    for (let i = 0; i < CLOSES; i++) {
      // Let the stream build a backlog, then cut the connection under it.
      await until(() => checker.inFlight >= 10_000 || stream.sent >= MESSAGES, 10_000);
      const fault = checker.faultStarted('close_connection');
      closed += await closeConnectionsNamed(connectionName);
      checker.faultCleared(fault);
      await until(() => amqp.isConnected, 15_000);
      await sleep(300);
    }
    await stream.done;
    await until(() => checker.settled, 60_000);
    await until(async () => (await admin.messageCount(queue)) === 0, 10_000);
    await sleep(500); // late redeliveries would show up now
    subscription.unsubscribe();
    stopTrace();
    checker.addAbsorbed(amqp.getHandlerStats()[RECORDER].duplicates);
    const inRedis = await redis.scard(sideEffects);
    const figures = checker.report();
    const deadLettered = await admin.messageCount(`${queue}.dlq`);

    recordFigures({
      id: '1',
      scenario: `connection closed by the broker ${CLOSES}×`,
      test: currentTest(),
      figures,
      durationMs: since(started),
      notes: `${closed} connections closed; dedup: memory store; ${inRedis} ids in the Redis side-effect set; ${deadLettered} dead-lettered`,
    });

    expect(closed).toBeGreaterThanOrEqual(CLOSES);
    expect(figures.lost).toBe(0);
    expect(figures.lostIds).toEqual([]);
    expect(figures.duplicateSideEffects).toBe(0);
    expect(figures.unexpected).toBe(0);
    expect(figures.rejected).toBe(0);
    expect(inRedis).toBe(figures.processed);
    expect(deadLettered).toBe(0);
  });
});
