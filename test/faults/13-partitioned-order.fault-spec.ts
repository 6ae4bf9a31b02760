import type { INestApplicationContext } from '@nestjs/common';
import { AmqpConnection, partitionQueueName, RabbitMQModule } from '@warren/rabbitmq';
import { Redis } from 'ioredis';
import { REDIS_URL } from '../support/broker';
import { OrderChecker } from '../support/order-checker';
import { TotalQueueChecker } from './support/checker';
import { faultUrl } from './support/fault-env';
import { recordFigures, since } from './support/figures';
import { bootApp, currentTest, faultName, resetLogger } from './support/harness';
import { NodeAdmin } from './support/node-admin';
import { amqpPort, killNode, leaderOf, startCluster, startNode, type NodeId } from './support/nodes';
import { PublishStream, sleep, trace, until } from './support/stream';
import { WorkerProcess } from './support/workers';

const NODES: NodeId[] = [1, 2, 3];
const MESSAGES = 12_000;
const KEYS = 600;
const PARTITIONS = 8;
const LEASE_MS = 1_500;

/**
 * Partitioned, ordered consumption on the 3-node cluster: 12,000 messages over 600 keys (20 steps
 * per key, published in step order), 8 quorum partition queues, 3 consumer processes (built
 * library, dedup on Redis). Mid-stream one process is killed with kill -9, one is stopped
 * gracefully, a third is killed later; each is replaced by a new process, so the partitions move
 * between processes five times. Every handled step is appended to one Redis list; the order
 * checker then counts, per key, steps handled before an earlier step of their key (must be 0).
 */
describe('fault 13: partitioned consumers keep per-key order through kill -9, restart and scale changes', () => {
  const exchange = faultName('partitions.x');
  let skip: string | undefined;
  let admin: NodeAdmin | undefined;
  let redis: Redis;
  let publisher: INestApplicationContext | undefined;
  const workers: WorkerProcess[] = [];
  const redisKeys: string[] = [];
  const urls = (): string[] => NODES.map((n) => faultUrl(amqpPort(n)));
  /** The node URLs starting at the `first`-th, so that processes spread over the nodes. */
  const rotated = (first: number): string[] => [...urls().slice(first % 3), ...urls().slice(0, first % 3)];
  const queues: string[] = [];

  beforeAll(async () => {
    skip = await startCluster();
    if (skip) {
      process.stdout.write(`[faults] scenario 13 skipped: ${skip}\n`);
      return;
    }
    admin = await NodeAdmin.connect(...urls());
    redis = new Redis(REDIS_URL);
    publisher = (
      await bootApp(
        {
          imports: [
            RabbitMQModule.forRoot({
              uri: rotated(2),
              connectionName: faultName('partitions-publisher'),
              exchanges: [{ name: exchange, type: 'direct' }],
              publishOptions: { timeout: 30_000 },
            }),
          ],
        },
        'fault-13-publisher',
      )
    ).app;
  }, 180_000);

  afterAll(async () => {
    for (const worker of workers) await worker.kill9(false).catch(() => undefined);
    await publisher?.close().catch(() => undefined);
    for (const queue of queues) {
      const partitionQueues = Array.from({ length: PARTITIONS }, (_, i) => partitionQueueName(queue, i));
      await admin?.deleteQueue(...partitionQueues, `${queue}.dlq`);
      await admin?.deleteExchange(`${queue}.partitions`);
    }
    await admin?.deleteExchange(exchange);
    if (!skip) for (const node of NODES) await startNode(node).catch(() => undefined);
    await admin?.close();
    if (redis) {
      for (const prefix of redisKeys) {
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length > 0) await redis.del(...keys);
      }
      redis.disconnect();
    }
    resetLogger();
  }, 120_000);

  type Fault = {
    at: number;
    what: string;
    act: (running: WorkerProcess[], queue: string) => Promise<{ replaced?: WorkerProcess; done?: () => Promise<void> }>;
  };

  async function run(id: string, label: string, messages: number, keyCount: number, faultPlan: Fault[]): Promise<number> {
    const started = Date.now();
    if (skip) {
      recordFigures({ id, scenario: label, test: currentTest(), durationMs: since(started), skipped: skip });
      return 0;
    }
    const queue = faultName(`partitions.orders${id}`);
    queues.push(queue);
    const prefix = `${queue}:`;
    redisKeys.push(prefix);
    const keys = { effects: `${prefix}effects`, count: `${prefix}effects-count`, runs: `${prefix}runs`, stats: `${prefix}stats`, order: `${prefix}order` };
    const env = {
      MODE: 'partitioned',
      EXCHANGE: exchange,
      QUEUE: queue,
      PARTITIONS: String(PARTITIONS),
      PREFETCH: '20',
      WORK_MS: '1',
      LEASE_MS: String(LEASE_MS),
      REDIS_URL,
      DEDUP_PREFIX: `${prefix}dedup:`,
      EFFECTS_KEY: keys.effects,
      EFFECTS_COUNT_KEY: keys.count,
      RUNS_KEY: keys.runs,
      STATS_KEY: keys.stats,
      ORDER_KEY: keys.order,
    };
    let instances = 0;
    const startWorker = async (): Promise<WorkerProcess> => {
      ++instances;
      const worker = new WorkerProcess(`fault-${id}-worker-${instances}`, {
        ...env,
        AMQP_URL: rotated(instances).join(','),
        CONNECTION_NAME: faultName(`partitions-worker-${instances}`),
      });
      workers.push(worker);
      await worker.waitFor('ready', 60_000);
      return worker;
    };
    const running = [await startWorker(), await startWorker(), await startWorker()];

    const checker = new TotalQueueChecker();
    const amqp = (publisher as INestApplicationContext).get(AmqpConnection);
    const stream = new PublishStream({
      count: messages,
      prefix: `${id}-`,
      window: 500,
      rate: 2_000,
      checker,
      publish: async (mid, index) => {
        const key = `order-${index % keyCount}`;
        await amqp.publish(exchange, queue, { id: mid, key, seq: Math.floor(index / keyCount) }, { messageId: mid, partitionKey: key });
      },
    });
    const scard = (): Promise<number> => redis.scard(keys.effects);
    let processedNow = 0;
    const stopTrace = trace(`fault-${id}`, () => ({ sent: stream.sent, confirmed: checker.confirmedCount, processed: processedNow, workers: instances }));
    const poll = setInterval(
      () =>
        void scard().then(
          (n) => (processedNow = n),
          () => undefined,
        ),
      100,
    );
    try {
      return await drive();
    } finally {
      clearInterval(poll);
      stopTrace();
    }

    async function drive(): Promise<number> {
      const faults: string[] = [];
      let smallestInFlight = Number.POSITIVE_INFINITY;
      let slowestRecovery = 0;
      for (const fault of faultPlan) {
        await until(async () => (await scard()) >= fault.at, 90_000);
        smallestInFlight = Math.min(smallestInFlight, stream.sent - (await scard()));
        const before = await scard();
        const t0 = Date.now();
        const outcome = await fault.act(running, queue);
        faults.push(fault.what);
        if (outcome.replaced) {
          running.splice(running.indexOf(outcome.replaced), 1);
          running.push(await startWorker());
        }
        await until(async () => (await scard()) > before + 50, 60_000, 20);
        slowestRecovery = Math.max(slowestRecovery, Date.now() - t0);
        await outcome.done?.();
      }

      await stream.done;
      const partitionQueues = Array.from({ length: PARTITIONS }, (_, i) => partitionQueueName(queue, i));
      const drained = async (): Promise<boolean> => {
        if ((await scard()) < checker.confirmedCount) return false;
        for (const q of partitionQueues) if ((await admin?.messageCount(q)) !== 0) return false;
        return true;
      };
      await until(drained, 90_000, 200);
      await sleep(300);
      for (const worker of running) await worker.stop();

      const [members, effectCount, runs, stats, order] = await Promise.all([
        redis.smembers(keys.effects),
        redis.get(keys.count),
        redis.hgetall(keys.runs),
        redis.hgetall(keys.stats),
        redis.lrange(keys.order, 0, -1),
      ]);
      for (const member of members) {
        checker.processed(member);
        checker.sideEffect(member);
      }
      checker.addSideEffectDuplicates(Number(effectCount) - members.length);
      let reruns = 0;
      for (const n of Object.values(runs)) reruns += Number(n) - 1;
      checker.addAbsorbed(reruns + Object.values(stats).reduce((sum, n) => sum + Number(n), 0));
      const figures = checker.report();
      const ordering = new OrderChecker();
      for (const entry of order) {
        const at = entry.lastIndexOf(':');
        ordering.record(entry.slice(0, at), Number(entry.slice(at + 1)));
      }
      const dlq = await admin?.messageCount(`${queue}.dlq`);

      recordFigures({
        id,
        scenario: label,
        test: currentTest(),
        figures: { ...figures, inFlightAtFault: smallestInFlight, recoveryMs: slowestRecovery },
        durationMs: since(started),
        notes:
          `${instances} consumer processes (3 at a time): ${faults.join(', ')}; ` +
          `order checker: ${ordering.handled} first handlings over ${keyCount} keys, ${ordering.outOfOrder} out of order; ` +
          `dedup: Redis; dead-letter queue: ${dlq ?? '?'}`,
      });

      expect(ordering.examples).toEqual([]);
      expect(ordering.outOfOrder).toBe(0);
      expect(ordering.handled).toBe(members.length);
      expect(figures.lost).toBe(0);
      expect(figures.lostIds).toEqual([]);
      expect(figures.duplicateSideEffects).toBe(0);
      expect(figures.unexpected).toBe(0);
      // A publish refused while a partition's leader moves is typed, never silent.
      expect(figures.untyped).toBe(0);
      expect(figures.unsettled).toBe(0);
      expect(dlq).toBe(0);
      return figures.rejected;
    }
  }

  /** Takes the oldest running process down and has it replaced. */
  const worker = (at: number, what: string, act: (victim: WorkerProcess) => Promise<void>): Fault => ({
    at,
    what,
    act: async (running) => {
      const victim = running[0];
      await act(victim);
      return { replaced: victim };
    },
  });

  it('12,000 messages over 600 keys, 3 processes on 8 quorum partitions: 0 lost, 0 duplicate side effects, 0 out of order', async () => {
    const rejected = await run(
      '13a',
      `partitioned order (${PARTITIONS} quorum partitions, ${KEYS} keys), 3 consumer processes: kill -9, graceful restart, kill -9`,
      MESSAGES,
      KEYS,
      [
        worker(2_500, 'kill -9 of a consumer process (replaced)', (w) => w.kill9()),
        worker(5_500, 'graceful stop of a consumer process (replaced)', (w) => w.stop()),
        worker(8_500, 'kill -9 of a consumer process (replaced)', (w) => w.kill9()),
      ],
    );
    expect(rejected).toBe(0);
  }, 400_000);

  it('10,000 messages over 500 keys while the node leading the partitions is killed: 0 lost, 0 out of order', async () => {
    const leaderKill: Fault = {
      at: 3_000,
      what: 'kill -9 of the node leading partition 0 (restarted 5 s later)',
      act: async (_running, queue) => {
        const leader = (await leaderOf(partitionQueueName(queue, 0))) ?? 1;
        await killNode(leader);
        return {
          done: async () => {
            await sleep(5_000);
            await startNode(leader);
          },
        };
      },
    };
    await run('13b', `partitioned order (${PARTITIONS} quorum partitions, 500 keys), 3 consumer processes: partition leader node kill -9`, 10_000, 500, [
      leaderKill,
    ]);
  }, 400_000);
});
