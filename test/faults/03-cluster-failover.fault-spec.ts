import type { INestApplicationContext } from '@nestjs/common';
import { MemoryDedupStore } from '@warren/rabbitmq';
import { TotalQueueChecker } from './support/checker';
import { faultUrl } from './support/fault-env';
import { recordFigures, since } from './support/figures';
import { bootApp, currentTest, faultName, RECORDER, recorderModule, resetLogger } from './support/harness';
import { NodeAdmin } from './support/node-admin';
import { amqpPort, killNode, leaderOf, startCluster, startNode, stopNode, type NodeId } from './support/nodes';
import { PublishStream, sleep, trace, until } from './support/stream';

const MESSAGES = 20_000;
const BURST = 11_000;
const RATE = 1_500;
const NODES: NodeId[] = [1, 2, 3];

/**
 * A quorum queue replicated on a local 3-node cluster; the client is given all three URLs
 * (it connects to the first that answers). (a) The node leading the queue, not the one the
 * client is connected to, is killed with kill -9 mid-stream and brought back: the client's
 * channel stays up while the queue elects a new leader. (b) The leader, this time the node the
 * client is connected to, is stopped gracefully: the client fails over to another URL.
 */
describe('fault 3: a quorum queue loses its leader in a 3-node cluster', () => {
  const exchange = faultName('cluster.x');
  let skip: string | undefined;
  let admin: NodeAdmin | undefined;
  const apps: INestApplicationContext[] = [];
  const queues: string[] = [];

  beforeAll(async () => {
    skip = await startCluster();
    if (skip) process.stdout.write(`[faults] scenario 3 skipped: ${skip}\n`);
    else admin = await NodeAdmin.connect(...NODES.map((n) => faultUrl(amqpPort(n))));
  }, 180_000);

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    if (!skip) for (const node of NODES) await startNode(node).catch(() => undefined);
    await admin?.deleteQueue(...queues);
    await admin?.deleteExchange(exchange);
    await admin?.close();
    resetLogger();
  }, 120_000);

  async function run(
    id: string,
    label: string,
    fault: (queue: string) => Promise<{ node: NodeId; action: string; clear: () => Promise<void> }>,
    declareOn?: NodeId,
  ) {
    const started = Date.now();
    if (skip) {
      recordFigures({ id, scenario: label, test: currentTest(), durationMs: since(started), skipped: skip });
      return;
    }
    const queue = faultName(`cluster.q${id}`);
    queues.push(queue);
    if (declareOn !== undefined) {
      // Declared through another node, so that node leads the queue (client-local placement).
      const there = await NodeAdmin.connect(faultUrl(amqpPort(declareOn)));
      await there.raw((ch) => ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } }));
      await there.close();
    }
    const checker = new TotalQueueChecker();
    const booted = await bootApp(
      recorderModule(
        {
          uri: NODES.map((n) => faultUrl(amqpPort(n))),
          connectionName: faultName(`cluster-app-${id}`),
          exchanges: [{ name: exchange, type: 'direct' }],
          publishOptions: { timeout: 30_000 },
        },
        // deadLetter: false: the queue may be declared first through another node with no dead-letter arguments
        // (leader placement), which the implied <queue>.dlq routing of a quorum queue would contradict.
        {
          exchange,
          queue,
          checker,
          prefetch: 20,
          workMs: 5,
          queueOptions: { type: 'quorum' },
          deadLetter: false,
          dedup: { store: new MemoryDedupStore(), lease: 10_000 },
        },
      ),
      `fault-${id}`,
    );
    apps.push(booted.app);
    const { amqp } = booted;
    let connects = 0;
    const subscription = amqp.status$.subscribe((status) => {
      if (status === 'connected' && connects++ > 0) checker.reconnected();
    });
    const stream = new PublishStream({
      count: MESSAGES,
      prefix: `cl${id}-`,
      window: 1000,
      burst: BURST,
      rate: RATE,
      checker,
      publish: (mid) => amqp.publish(exchange, queue, { id: mid }, { messageId: mid }),
    });
    const stopTrace = trace(`fault-${id}`, () => ({
      sent: stream.sent,
      confirmed: checker.confirmedCount,
      rejected: stream.settled - checker.confirmedCount,
      processed: checker.processedCount,
      status: amqp.status,
    }));

    await until(() => checker.inFlight >= 10_000, 20_000);
    // The cluster keeps a majority: for the client the fault is the kill or stop itself, so
    // recovery counts from then; the node comes back a little later.
    checker.faultStarted(label);
    const done = await fault(queue);
    await sleep(1500);
    await done.clear();

    const finished = await until(async () => {
      await Promise.race([stream.done, sleep(100)]);
      return stream.settled === MESSAGES;
    }, 90_000);
    await until(() => checker.settled, 60_000);
    await sleep(500);
    subscription.unsubscribe();
    stopTrace();
    checker.addAbsorbed(amqp.getHandlerStats()[RECORDER].duplicates);
    const figures = checker.report();
    const remaining = await admin?.messageCount(queue);
    recordFigures({
      id,
      scenario: label,
      test: currentTest(),
      figures,
      durationMs: since(started),
      notes: `${done.action}; unsettled publishes ${figures.unsettled}; untyped rejections ${figures.untyped}; ${remaining ?? '?'} left in the queue`,
    });
    await booted.app.close();
    apps.splice(apps.indexOf(booted.app), 1);

    expect(finished).toBe(true);
    expect(figures.unsettled).toBe(0);
    expect(figures.untyped).toBe(0);
    expect(figures.lost).toBe(0);
    expect(figures.lostIds).toEqual([]);
    expect(figures.duplicateSideEffects).toBe(0);
    expect(figures.unexpected).toBe(0);
    // The client must recover rather than fail publishes while the queue has a majority.
    expect(figures.rejected).toBe(0);
  }

  it("(a) kill -9 of the leader (not the client's node) mid-stream, then back: nothing lost, publishes recover", async () => {
    // A second queue led by the same node starts receiving the stream right after the crash.
    // On 3.10 the publishing channel's first contact with a quorum queue whose leader just
    // died leaves that channel nacking every publish to it until the old node returns.
    const late = faultName('cluster.late');
    queues.push(late);
    await run(
      '3a',
      'quorum leader killed (kill -9), brought back',
      async (queue) => {
        const there = await NodeAdmin.connect(faultUrl(amqpPort(2)));
        await there.raw((ch) => ch.assertQueue(late, { durable: true, arguments: { 'x-queue-type': 'quorum' } }));
        await there.close();
        const leader = (await leaderOf(queue)) ?? 2;
        await killNode(leader);
        await admin?.raw((ch) => ch.bindQueue(late, exchange, queue));
        return { node: leader, action: `kill -9 of leader f${leader} (client on f1); a queue it led bound right after`, clear: () => startNode(leader) };
      },
      2,
    );
  }, 180_000);

  it("(b) graceful stop of the leader (the client's node) mid-stream, then back: nothing lost, the client fails over", async () => {
    await run('3b', 'quorum leader stopped gracefully, brought back', async (queue) => {
      const leader = (await leaderOf(queue)) ?? 1;
      await stopNode(leader);
      return { node: leader, action: `graceful stop of leader f${leader}`, clear: () => startNode(leader) };
    });
  }, 180_000);
});
