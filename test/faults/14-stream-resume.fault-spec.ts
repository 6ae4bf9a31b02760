import type { INestApplicationContext } from '@nestjs/common';
import { AmqpConnection, RabbitMQModule } from '@warren/rabbitmq';
import { Redis } from 'ioredis';
import { BrokerAdmin, REDIS_URL } from '../support/broker';
import { TotalQueueChecker } from './support/checker';
import { faultUrl } from './support/fault-env';
import { recordFigures, since } from './support/figures';
import { bootApp, currentTest, faultName, resetLogger } from './support/harness';
import { PublishStream, trace, until } from './support/stream';
import { WorkerProcess } from './support/workers';

const MESSAGES = 100_000;
const KILL_AFTER = 40_000;
const PREFETCH = 100;

/**
 * A stream reader (a child process, the built library, its position in Redis) reads 100,000
 * messages from 'first' and is killed with kill -9 in the middle; a new process with the same
 * reader name resumes from the stored position. Every message must be read (no gap), and at most
 * one prefetch window read twice.
 */
describe('fault 14: a stream reader killed mid-log resumes where it stopped', () => {
  const exchange = faultName('stream.x');
  const queue = faultName('stream.log');
  let admin: BrokerAdmin;
  let redis: Redis;
  let publisher: INestApplicationContext | undefined;
  const workers: WorkerProcess[] = [];
  const prefix = `${queue}:`;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange);
    admin.track('queue', queue);
    redis = new Redis(REDIS_URL);
    publisher = (
      await bootApp(
        {
          imports: [
            RabbitMQModule.forRoot({ uri: faultUrl(), connectionName: faultName('stream-publisher'), exchanges: [{ name: exchange, type: 'direct' }] }),
          ],
        },
        'fault-14-publisher',
      )
    ).app;
  });

  afterAll(async () => {
    for (const worker of workers) await worker.kill9(false).catch(() => undefined);
    await publisher?.close().catch(() => undefined);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await admin.close();
    resetLogger();
  });

  it('100,000 messages, reader killed (kill -9) at 40,000: no gap, at most one prefetch window re-read', async () => {
    const started = Date.now();
    const orderKey = `${prefix}reads`;
    const env = {
      MODE: 'stream',
      AMQP_URL: faultUrl(),
      EXCHANGE: exchange,
      QUEUE: queue,
      PREFETCH: String(PREFETCH),
      REDIS_URL,
      READER: 'audit',
      OFFSET_PREFIX: `${prefix}offset:`,
      ORDER_KEY: orderKey,
    };
    let instances = 0;
    const startWorker = async (): Promise<WorkerProcess> => {
      const worker = new WorkerProcess(`fault-14-reader-${++instances}`, { ...env, CONNECTION_NAME: faultName(`stream-reader-${instances}`) });
      workers.push(worker);
      await worker.waitFor('ready', 60_000);
      return worker;
    };
    // The first reader declares the stream and its binding.
    const first = await startWorker();
    const checker = new TotalQueueChecker();
    const amqp = (publisher as INestApplicationContext).get(AmqpConnection);
    const stream = new PublishStream({
      count: MESSAGES,
      prefix: '14-',
      window: 1000,
      checker,
      publish: (mid, index) => amqp.publish(exchange, queue, { seq: index }, { messageId: mid }),
    });
    const reads = (): Promise<number> => redis.llen(orderKey);
    let readNow = 0;
    const stopTrace = trace('fault-14', () => ({ sent: stream.sent, confirmed: checker.confirmedCount, read: readNow }));
    const poll = setInterval(() => void reads().then((n) => (readNow = n)), 100);

    expect(await until(async () => (await reads()) >= KILL_AFTER, 180_000)).toBe(true);
    const inFlightAtKill = stream.sent - (await reads());
    const killedAt = Date.now();
    await first.kill9(false);
    const readAtKill = await reads();
    const savedAtKill = Number(await redis.get(`${prefix}offset:audit`));
    await startWorker();
    const recovery = until(async () => (await reads()) > readAtKill, 60_000, 20).then((ok) => (ok ? Date.now() - killedAt : undefined));
    await stream.done;
    await until(async () => (await reads()) >= MESSAGES, 240_000, 200);
    const recoveryMs = await recovery;
    for (const worker of workers) await worker.stop();
    clearInterval(poll);
    stopTrace();

    const seqs = (await redis.lrange(orderKey, 0, -1)).map(Number);
    const distinct = new Set(seqs);
    const missing: number[] = [];
    for (let seq = 0; seq < MESSAGES; seq++) if (!distinct.has(seq)) missing.push(seq);
    const reRead = seqs.length - distinct.size;
    // Each process reads in stream order; the second starts at most a window before where the first stopped.
    const firstPart = seqs.slice(0, readAtKill);
    const secondPart = seqs.slice(readAtKill);
    const ascending = (list: number[]): boolean => list.every((seq, i) => i === 0 || seq === list[i - 1] + 1);
    for (const seq of distinct) checker.processed(`14-${seq}`);

    const figures = checker.report();
    recordFigures({
      id: '14',
      scenario: 'stream reader (offset in Redis) killed with kill -9 mid-log, resumed by a new process',
      test: currentTest(),
      figures: {
        ...figures,
        lost: missing.length,
        lostIds: missing.slice(0, 10).map(String),
        duplicatedDeliveries: reRead,
        inFlightAtFault: inFlightAtKill,
        recoveryMs,
      },
      durationMs: since(started),
      notes: `${MESSAGES} messages read from 'first', prefetch ${PREFETCH}; killed after ${readAtKill} reads (position saved: offset ${savedAtKill}); re-read after the restart: ${reRead} (bound: one prefetch window, ${PREFETCH})`,
    });

    expect(missing.slice(0, 10)).toEqual([]);
    expect(figures.lost).toBe(0);
    expect(figures.unexpected).toBe(0);
    expect(ascending(firstPart)).toBe(true);
    expect(ascending(secondPart)).toBe(true);
    expect(secondPart[0]).toBeLessThanOrEqual(firstPart[firstPart.length - 1] + 1);
    expect(reRead).toBeLessThanOrEqual(PREFETCH);
    expect(figures.rejected).toBe(0);
    expect(figures.unsettled).toBe(0);
  }, 600_000);
});
