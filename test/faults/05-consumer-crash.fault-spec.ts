import type { INestApplicationContext } from '@nestjs/common';
import { AmqpConnection, DeadLetterService, RabbitMQModule } from '@warren/rabbitmq';
import { Redis } from 'ioredis';
import { BrokerAdmin, REDIS_URL } from '../support/broker';
import { TotalQueueChecker } from './support/checker';
import { faultUrl } from './support/fault-env';
import { recordFigures, since } from './support/figures';
import { bootApp, currentTest, faultName, resetLogger } from './support/harness';
import { PublishStream, sleep, trace, until } from './support/stream';
import { WorkerProcess } from './support/workers';

const MESSAGES = 16_000;
const KILL_AFTER = 3_000;
const CRASH_AT = 8_000;
const DELIVERY_LIMIT = 2;
const LEASE_MS = 1_500;
// A supervisor restarts a crashed process after a delay (systemd RestartSec, Kubernetes' back-off).
// Restarted faster than the dedup lease, a crash-looping message's neighbours would share its
// fate: their claims, held by the dead process, outlive each crash, so they could never finish
// before the next one and would reach the delivery limit with it.
const RESTART_DELAY_MS = LEASE_MS + 100;

/**
 * Consumers in child processes (the built library, dedup on Redis) are killed with kill -9
 * while handlers are in flight; a second instance takes over. On the quorum queue one message
 * also crashes every process that takes it, until the delivery limit dead-letters it.
 */
describe('fault 5: a consumer process is killed (kill -9) mid-handlers', () => {
  const exchange = faultName('crash.x');
  let admin: BrokerAdmin;
  let redis: Redis;
  let publisher: INestApplicationContext | undefined;
  const workers: WorkerProcess[] = [];
  const redisKeys: string[] = [];

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange);
    redis = new Redis(REDIS_URL);
    publisher = (
      await bootApp(
        {
          imports: [RabbitMQModule.forRoot({ uri: faultUrl(), connectionName: faultName('crash-publisher'), exchanges: [{ name: exchange, type: 'direct' }] })],
        },
        'fault-5-publisher',
      )
    ).app;
  });

  afterAll(async () => {
    for (const worker of workers) await worker.kill9(false).catch(() => undefined);
    await publisher?.close().catch(() => undefined);
    for (const prefix of redisKeys) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    redis.disconnect();
    await admin.close();
    resetLogger();
  });

  async function run(id: string, queueType: 'classic' | 'quorum'): Promise<void> {
    const started = Date.now();
    const queue = faultName(`crash.${queueType}`);
    admin.track('queue', queue, `${queue}.dlq`);
    const prefix = `${queue}:`;
    redisKeys.push(prefix);
    const keys = { effects: `${prefix}effects`, count: `${prefix}effects-count`, runs: `${prefix}runs`, stats: `${prefix}stats` };
    const env = {
      MODE: 'consumer',
      AMQP_URL: faultUrl(),
      EXCHANGE: exchange,
      QUEUE: queue,
      QUEUE_TYPE: queueType,
      DELIVERY_LIMIT: String(DELIVERY_LIMIT),
      PREFETCH: '20',
      WORK_MS: '2',
      LEASE_MS: String(LEASE_MS),
      REDIS_URL,
      DEDUP_PREFIX: `${prefix}dedup:`,
      EFFECTS_KEY: keys.effects,
      EFFECTS_COUNT_KEY: keys.count,
      RUNS_KEY: keys.runs,
      STATS_KEY: keys.stats,
    };
    let instances = 0;
    const startWorker = async (): Promise<WorkerProcess> => {
      const worker = new WorkerProcess(`fault-${id}-worker-${++instances}`, { ...env, CONNECTION_NAME: faultName(`crash-worker-${instances}`) });
      workers.push(worker);
      await worker.waitFor('ready');
      return worker;
    };

    const first = await startWorker();
    const checker = new TotalQueueChecker();
    const amqp = (publisher as INestApplicationContext).get(AmqpConnection);
    const crashId = `${id}-crash`;
    const stream = new PublishStream({
      count: MESSAGES,
      prefix: `${id}-`,
      window: 1000,
      checker,
      publish: async (mid, index) => {
        if (queueType === 'quorum' && index === CRASH_AT) await amqp.publish(exchange, queue, { id: crashId, crash: true }, { messageId: crashId });
        await amqp.publish(exchange, queue, { id: mid }, { messageId: mid });
      },
    });
    const scard = (): Promise<number> => redis.scard(keys.effects);
    let processedNow = 0;
    const stopTrace = trace(`fault-${id}`, () => ({ sent: stream.sent, confirmed: checker.confirmedCount, processed: processedNow, workers: instances }));
    const poll = setInterval(() => void scard().then((n) => (processedNow = n)), 100);

    await until(async () => (await scard()) >= KILL_AFTER, 30_000);
    const inFlightAtKill = stream.sent - (await scard());
    const killedAt = Date.now();
    await first.kill9();
    const atKill = await scard();

    // A successor takes over at once (as a second replica would); on the quorum queue each one
    // the crashing message reaches dies too and is restarted by its "supervisor".
    const goodTotal = MESSAGES;
    let crashes = 0;
    const recovery = until(async () => (await scard()) > atKill, 60_000, 20).then((ok) => (ok ? Date.now() - killedAt : undefined));
    let current = await startWorker();
    const done = async (): Promise<boolean> => (await scard()) >= goodTotal && (await admin.messageCount(queue)) === 0;
    for (let round = 0; round < 8; round++) {
      let exited = false;
      void current.exited.then(() => (exited = true));
      await until(async () => exited || (await done()), 60_000, 100);
      if (!exited) break;
      crashes++;
      await sleep(RESTART_DELAY_MS);
      current = await startWorker();
    }
    const recoveryMs = await recovery;
    await stream.done;
    await until(done, 30_000, 100);
    await sleep(300);
    await current.stop();
    clearInterval(poll);
    stopTrace();

    const [members, effectCount, runs, stats] = await Promise.all([
      redis.smembers(keys.effects),
      redis.get(keys.count),
      redis.hgetall(keys.runs),
      redis.hgetall(keys.stats),
    ]);
    for (const member of members) {
      checker.processed(member);
      checker.sideEffect(member);
    }
    checker.addSideEffectDuplicates(Number(effectCount) - members.length);
    let reruns = 0;
    for (const [mid, n] of Object.entries(runs)) if (mid !== crashId) reruns += Number(n) - 1;
    checker.addAbsorbed(reruns + Object.values(stats).reduce((sum, n) => sum + Number(n), 0));
    const figures = checker.report();
    const deadLetters = await (publisher as INestApplicationContext).get(DeadLetterService).peek(`${queue}.dlq`, { limit: 50 });
    const deadIds = deadLetters.map((d) => d.messageId);

    recordFigures({
      id,
      scenario: `consumer kill -9, ${queueType} queue${queueType === 'quorum' ? ` (delivery limit ${DELIVERY_LIMIT}) + crash-looping message` : ''}`,
      test: currentTest(),
      figures: { ...figures, inFlightAtFault: inFlightAtKill, recoveryMs },
      durationMs: since(started),
      notes:
        `${instances} consumer processes, 1 killed by the test` +
        (queueType === 'quorum' ? `, ${crashes} taken down by the crash-looping message` : '') +
        `; dedup: Redis; dead-letter queue: ${deadIds.length ? deadIds.join(', ') : 'empty'}`,
    });

    expect(figures.lost).toBe(0);
    expect(figures.lostIds).toEqual([]);
    expect(figures.duplicateSideEffects).toBe(0);
    expect(figures.unexpected).toBe(0);
    expect(figures.rejected).toBe(0);
    if (queueType === 'quorum') {
      expect(deadIds).toEqual([crashId]);
      expect(deadLetters[0].reason.errorMessage).toContain('delivery limit');
      expect(crashes).toBeGreaterThanOrEqual(DELIVERY_LIMIT);
    } else {
      expect(deadIds).toEqual([]);
    }
  }

  it('classic queue: every message the killed process held is redelivered and processed once by the next instance', async () => {
    await run('5a', 'classic');
  }, 120_000);

  it('quorum queue with a delivery limit: the same, and the message that kills every consumer ends in the dead-letter queue', async () => {
    await run('5b', 'quorum');
  }, 120_000);
});
