import { Injectable, type INestApplicationContext } from '@nestjs/common';
import {
  AmqpConnection,
  InvalidOptionsError,
  MemoryDedupStore,
  MessageEncodingError,
  partitionOf,
  partitionQueueName,
  RabbitMQModule,
  RabbitSubscribe,
  type PartitionOptions,
  type RabbitHandlerConfig,
  UnroutableMessageError,
} from '@warren/rabbitmq';
import { bootExpectingFailure, createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, uniqueName, waitFor } from './support/broker';
import { OrderChecker } from './support/order-checker';

interface Step {
  key: string;
  seq: number;
  /** Failures before it succeeds. */
  fail?: number;
}

const COUNT = 8;

/** What every instance of one test saw, in the order handlers ran. */
class Journal {
  readonly order = new OrderChecker();
  /** partition -> instance labels that handled it since the last reset */
  readonly handlers = new Map<number, Set<string>>();
  readonly failures = new Map<string, number>();
  running = 0;
  maxRunningPerKey = 0;
  readonly runningKeys = new Map<string, number>();
  handled: Array<{ key: string; seq: number; instance: string }> = [];
  resetHandlers(): void {
    this.handlers.clear();
  }
}

function workerModule(
  exchange: string,
  queue: string,
  journal: Journal,
  instance: string,
  extra: Partial<RabbitHandlerConfig> = {},
  delayMs = 2,
  shutdownTimeout = 5000,
) {
  const partitions: PartitionOptions = { count: COUNT, heartbeatMs: 200, ...extra.partitions };
  @Injectable()
  class Payments {
    @RabbitSubscribe({ exchange, routingKey: 'order.*', queue, prefetch: 10, ...extra, partitions })
    async handle(step: Step): Promise<void> {
      const inKey = (journal.runningKeys.get(step.key) ?? 0) + 1;
      journal.runningKeys.set(step.key, inKey);
      journal.maxRunningPerKey = Math.max(journal.maxRunningPerKey, inKey);
      try {
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        const id = `${step.key}#${step.seq}`;
        const failed = journal.failures.get(id) ?? 0;
        if (failed < (step.fail ?? 0)) {
          journal.failures.set(id, failed + 1);
          throw new Error(`payment gateway refused ${id}`);
        }
        journal.order.record(step.key, step.seq);
        journal.handled.push({ key: step.key, seq: step.seq, instance });
        const partition = partitionOf(step.key, COUNT);
        const seen = journal.handlers.get(partition) ?? new Set<string>();
        seen.add(instance);
        journal.handlers.set(partition, seen);
      } finally {
        journal.runningKeys.set(step.key, inKey - 1);
      }
    }
  }
  return {
    imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName: instance, exchanges: [{ name: exchange, type: 'topic' }], shutdownTimeout })],
    providers: [Payments],
  };
}

/** One key per partition, for probing who is active where. */
function probeKeys(): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < COUNT; i++) {
    const key = `probe-${i}`;
    const partition = partitionOf(key, COUNT);
    if (keys[partition] === undefined) keys[partition] = key;
  }
  return keys;
}

describe('partitioned, ordered consumers', () => {
  let admin: BrokerAdmin;
  const apps = new Map<string, INestApplicationContext>();
  const exchange = uniqueName('partitions.x');

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange);
  });

  afterAll(async () => {
    for (const app of apps.values()) await app.close().catch(() => undefined);
    await admin?.close();
  });

  function track(queue: string): void {
    admin.track('queue', `${queue}.dlq`, ...Array.from({ length: COUNT }, (_, i) => partitionQueueName(queue, i)));
    admin.track('exchange', `${queue}.partitions`);
  }

  async function boot(label: string, module: ReturnType<typeof workerModule>): Promise<AmqpConnection> {
    const app = await createApp(module);
    apps.set(label, app);
    return app.get(AmqpConnection);
  }

  async function stop(label: string): Promise<void> {
    await apps.get(label)?.close();
    apps.delete(label);
  }

  /** Publishes one probe per partition until every partition is handled by the instance that owns it, and only by it. */
  async function waitForBalance(labels: string[], journal: Journal, seq: { n: number }): Promise<Map<string, number[]>> {
    const keys = probeKeys();
    const owners = new Map<number, string>();
    return waitFor(
      async () => {
        owners.clear();
        for (const label of labels) {
          const view = apps.get(label)!.get(AmqpConnection).partitionGroups()[0];
          if (view.instances !== labels.length) return false;
          for (const partition of view.owned) owners.set(partition, label);
        }
        if (owners.size !== COUNT) return false;
        journal.resetHandlers();
        const amqp = apps.get(labels[0])!.get(AmqpConnection);
        const round = seq.n++;
        await Promise.all(keys.map((key) => amqp.publish(exchange, 'order.probe', { key: `${key}`, seq: round }, { partitionKey: key })));
        await waitFor(() => keys.every((_, p) => (journal.handlers.get(p)?.size ?? 0) > 0), 'probes handled', 10_000);
        const balanced = keys.every((_, p) => {
          const seen = journal.handlers.get(p)!;
          return seen.size === 1 && seen.has(owners.get(p)!);
        });
        if (!balanced) return false;
        const byInstance = new Map<string, number[]>();
        for (const [p, label] of owners)
          byInstance.set(
            label,
            [...(byInstance.get(label) ?? []), p].sort((a, b) => a - b),
          );
        return byInstance;
      },
      'each partition active on its owner only',
      30_000,
      300,
    );
  }

  it('shares 8 partitions among 3 instances (3/3/2), each active only on its own', async () => {
    const queue = uniqueName('partitions.balance');
    track(queue);
    const journal = new Journal();
    for (const label of ['a', 'b', 'c']) await boot(label, workerModule(exchange, queue, journal, label));
    const byInstance = await waitForBalance(['a', 'b', 'c'], journal, { n: 0 });
    const sizes = [...byInstance.values()].map((p) => p.length).sort();
    expect(sizes).toEqual([2, 3, 3]);
    expect(journal.order.outOfOrder).toBe(0);

    // One leaves gracefully: the other two take its partitions over (4/4).
    await stop('c');
    const after = await waitForBalance(['a', 'b'], journal, { n: 1000 });
    expect([...after.values()].map((p) => p.length)).toEqual([4, 4]);
    await stop('a');
    await stop('b');
  });

  it('keeps per-key order while scaling 1 -> 3 and back to 1 under load', async () => {
    const queue = uniqueName('partitions.order');
    track(queue);
    const journal = new Journal();
    const first = await boot('o1', workerModule(exchange, queue, journal, 'o1'));
    const keys = Array.from({ length: 40 }, (_, i) => `order-${i}`);
    const perKey = 25;
    let published = 0;
    const publishing = (async () => {
      for (let seq = 0; seq < perKey; seq++) {
        await Promise.all(keys.map((key) => first.publish(exchange, 'order.step', { key, seq }, { partitionKey: key })));
        published += keys.length;
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
    })();
    await waitFor(() => published >= 200, 'traffic flowing', 20_000);
    await boot('o2', workerModule(exchange, queue, journal, 'o2'));
    await waitFor(() => published >= 400, 'more traffic', 20_000);
    await boot('o3', workerModule(exchange, queue, journal, 'o3'));
    await waitFor(() => published >= 600, 'more traffic', 20_000);
    await stop('o2');
    await waitFor(() => published >= 800, 'more traffic', 20_000);
    await stop('o3');
    await publishing;
    await waitFor(() => keys.every((key) => journal.order.count(key) === perKey), 'every step handled', 30_000);
    expect(journal.order.examples).toEqual([]);
    expect(journal.order.outOfOrder).toBe(0);
    expect(journal.maxRunningPerKey).toBe(1);
    // Handled by more than one instance: the partitions really moved.
    expect(new Set(journal.handled.map((h) => h.instance)).size).toBeGreaterThan(1);
    await stop('o1');
  });

  it('blocks a partition on a failing message until its in-place retry succeeds, and dedup still applies', async () => {
    const queue = uniqueName('partitions.retry');
    track(queue);
    const journal = new Journal();
    const amqp = await boot(
      'r1',
      workerModule(exchange, queue, journal, 'r1', {
        retry: { maxAttempts: 4, backoff: { type: 'fixed', delay: 150 } },
        dedup: { store: new MemoryDedupStore(), key: (m) => (m.payload as Step).key + '#' + String((m.payload as Step).seq) },
      }),
    );
    const key = 'order-flaky';
    await amqp.publish(exchange, 'order.step', { key, seq: 0, fail: 2 }, { partitionKey: key });
    for (let seq = 1; seq < 5; seq++) await amqp.publish(exchange, 'order.step', { key, seq }, { partitionKey: key });
    // A duplicate of an already published step: dedup skips it.
    await amqp.publish(exchange, 'order.step', { key, seq: 3 }, { partitionKey: key });
    await waitFor(() => journal.order.count(key) === 5, 'all steps handled', 15_000);
    expect(journal.failures.get(`${key}#0`)).toBe(2);
    expect(journal.handled.filter((h) => h.key === key).map((h) => h.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(journal.order.outOfOrder).toBe(0);
    // Nothing waited on a retry queue: the retry happened in place.
    await waitFor(async () => (await admin.messageCount(partitionQueueName(queue, partitionOf(key, COUNT)))) === 0, 'partition drained');
    await stop('r1');
  });

  it('a requeued message of a quorum partition is handled again before the messages held behind it', async () => {
    const queue = uniqueName('partitions.requeue');
    track(queue);
    const journal = new Journal();
    const amqp = await boot(
      'q1',
      workerModule(exchange, queue, journal, 'q1', { queueOptions: { type: 'quorum' }, errorBehavior: 'requeue', retry: false, deadLetter: false }),
    );
    const key = 'order-requeued';
    await amqp.publish(exchange, 'order.step', { key, seq: 0, fail: 2 }, { partitionKey: key });
    for (let seq = 1; seq < 6; seq++) await amqp.publish(exchange, 'order.step', { key, seq }, { partitionKey: key });
    await waitFor(() => journal.order.count(key) === 6, 'all steps handled', 20_000);
    expect(journal.failures.get(`${key}#0`)).toBe(2);
    expect(journal.handled.filter((h) => h.key === key).map((h) => h.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(journal.order.outOfOrder).toBe(0);
    await stop('q1');
  });

  it("with onFailure: 'delay' lets later messages of the partition go ahead of a retried one", async () => {
    const queue = uniqueName('partitions.delay');
    track(queue);
    const journal = new Journal();
    const amqp = await boot(
      'd1',
      workerModule(exchange, queue, journal, 'd1', {
        retry: { maxAttempts: 3, backoff: { type: 'fixed', delay: 300 } },
        partitions: { count: COUNT, onFailure: 'delay', heartbeatMs: 200 },
      }),
    );
    const key = 'order-delayed';
    await amqp.publish(exchange, 'order.step', { key, seq: 0, fail: 1 }, { partitionKey: key });
    await amqp.publish(exchange, 'order.step', { key, seq: 1 }, { partitionKey: key });
    await waitFor(() => journal.handled.filter((h) => h.key === key).length === 2, 'both handled', 15_000);
    expect(journal.handled.filter((h) => h.key === key).map((h) => h.seq)).toEqual([1, 0]);
    await stop('d1');
  });

  it('closes at once while a partition waits out a long in-place retry backoff, leaving the message in its partition', async () => {
    const queue = uniqueName('partitions.blockedstop');
    track(queue);
    const journal = new Journal();
    // A shutdownTimeout far longer than "at once": a shutdown that waited for the backoff would take it all.
    const retry = { maxAttempts: 5, backoff: { type: 'fixed' as const, delay: 30_000 } };
    const amqp = await boot('bs1', workerModule(exchange, queue, journal, 'bs1', { retry }, 2, 25_000));
    const key = 'order-stuck';
    const partitionQueue = partitionQueueName(queue, partitionOf(key, COUNT));
    await amqp.publish(exchange, 'order.step', { key, seq: 0, fail: 1000 }, { partitionKey: key });
    await waitFor(() => journal.failures.get(`${key}#0`) === 1, 'the first attempt failed', 15_000);

    const started = Date.now();
    await stop('bs1');
    expect(Date.now() - started).toBeLessThan(3_000);
    // Not run again, not dead-lettered, not lost: back at the head of its partition.
    expect(journal.failures.get(`${key}#0`)).toBe(1);
    await waitFor(async () => (await admin.messageCount(partitionQueue)) === 1, 'the message back in its partition', 5_000);
    expect((await admin.messageCount(`${queue}.dlq`)) ?? 0).toBe(0);
  });

  it('hands a partition waiting out a long in-place retry backoff over to its new owner at once', async () => {
    const queue = uniqueName('partitions.blockedmove');
    track(queue);
    const journal = new Journal();
    const retry = { maxAttempts: 5, backoff: { type: 'fixed' as const, delay: 30_000 } };
    const first = await boot('bm1', workerModule(exchange, queue, journal, 'bm1', { retry }));
    // One message per partition, each failing once: the first instance holds every partition in its backoff.
    const keys: string[] = [];
    for (let i = 0; keys.filter(Boolean).length < COUNT; i++) keys[partitionOf(`stuck-${i}`, COUNT)] ??= `stuck-${i}`;
    await Promise.all(keys.map((key) => first.publish(exchange, 'order.step', { key, seq: 0, fail: 1 }, { partitionKey: key })));
    await waitFor(() => keys.every((key) => journal.failures.get(`${key}#0`) === 1), 'every first attempt failed', 15_000);

    const second = await boot('bm2', workerModule(exchange, queue, journal, 'bm2', { retry }));
    // The partitions the newcomer takes over are let go by the first instance mid-backoff, and handled by the newcomer.
    const moved = await waitFor(
      () => {
        const owned = second.partitionGroups()[0].owned;
        const handledBySecond = new Set(journal.handled.filter((h) => h.instance === 'bm2').map((h) => h.key));
        return owned.length === COUNT / 2 && owned.every((p) => handledBySecond.has(keys[p])) && owned;
      },
      'the moved partitions handled by their new owner',
      15_000,
      100,
    );
    expect(moved).toHaveLength(COUNT / 2);
    expect((await admin.messageCount(`${queue}.dlq`)) ?? 0).toBe(0);
    await stop('bm2');
    await stop('bm1');
  });

  it('cancels and resumes every partition of a handler by its name, not only the first', async () => {
    const queue = uniqueName('partitions.pause');
    track(queue);
    const amqp = await boot('pause1', workerModule(exchange, queue, new Journal(), 'pause1'));
    const queues = Array.from({ length: COUNT }, (_, i) => partitionQueueName(queue, i));
    const consumers = async (): Promise<string> => (await Promise.all(queues.map((q) => admin.consumerCount(q)))).join();
    await waitFor(async () => (await consumers()) === queues.map(() => 1).join(), 'a consumer on every partition');
    await amqp.cancelConsumer('Payments.handle');
    expect(await consumers()).toBe(queues.map(() => 0).join());
    await amqp.resumeConsumer('Payments.handle');
    await waitFor(async () => (await consumers()) === queues.map(() => 1).join(), 'every partition consumed again');
    await stop('pause1');
  });

  it('rejects a non-string partition key before sending, and bad partition options at start-up', async () => {
    const queue = uniqueName('partitions.bad');
    track(queue);
    const journal = new Journal();
    const amqp = await boot('b1', workerModule(exchange, queue, journal, 'b1'));
    await expect(amqp.publish(exchange, 'order.step', { key: 'x', seq: 0 }, { partitionKey: 42 as unknown as string })).rejects.toBeInstanceOf(
      MessageEncodingError,
    );
    // Without a partition key the message reaches no partition: with nothing else bound, the publish says so.
    await expect(amqp.publish(exchange, 'order.step', { key: 'x', seq: 0 })).rejects.toBeInstanceOf(UnroutableMessageError);
    // Good traffic beside it is untouched.
    await amqp.publish(exchange, 'order.step', { key: 'good', seq: 0 }, { partitionKey: 'good' });
    await waitFor(() => journal.order.count('good') === 1, 'the good message handled');
    await stop('b1');

    const error = await bootExpectingFailure(workerModule(exchange, queue, journal, 'b2', { partitions: { count: 0 }, queue: '' }));
    expect(error).toBeInstanceOf(InvalidOptionsError);
    const problems = (error as InvalidOptionsError).problems.join('\n');
    expect(problems).toContain('partitions.count must be an integer from 1 to 64 (got 0)');
    expect(problems).toContain('partitions need a named queue');
  });
});
