import { Injectable, Logger, type INestApplicationContext } from '@nestjs/common';
import { AmqpConnection, MemoryDedupStore, RabbitMQModule, RabbitSubscribe, type DedupStore } from '@warren/rabbitmq';
import { RedisDedupStore } from '@warren/rabbitmq/redis';
import { Redis } from 'ioredis';
import { CapturingLogger, createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, closeConnectionsNamed, REDIS_URL, uniqueName, waitFor } from './support/broker';

const exchange = uniqueName('dedup.x');

/** Side effects recorded across every app instance of a test. */
class Ledger {
  readonly effects = new Map<string, number>();
  readonly failedOnce = new Set<string>();
  hold: Promise<void> | undefined;
  record(id: string): void {
    this.effects.set(id, (this.effects.get(id) ?? 0) + 1);
  }
}

function workerModule(queue: string, store: DedupStore, ledger: Ledger, connectionName: string) {
  @Injectable()
  class Payments {
    @RabbitSubscribe({
      exchange,
      routingKey: queue,
      queue,
      prefetch: 20,
      retry: { maxAttempts: 4, backoff: { type: 'fixed', delay: 100 } },
      dedup: { store, lease: 1500, ttl: 60_000, key: (m) => (m.payload as { orderId: string }).orderId },
    })
    async pay(payload: { orderId: string; flaky?: boolean }): Promise<void> {
      if (ledger.hold) await ledger.hold;
      if (payload.flaky && !ledger.failedOnce.has(payload.orderId)) {
        ledger.failedOnce.add(payload.orderId);
        throw new Error('gateway timeout');
      }
      ledger.record(payload.orderId);
    }
  }
  return {
    imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName, exchanges: [{ name: exchange, type: 'direct' }] })],
    providers: [Payments],
  };
}

describe('idempotent consumers', () => {
  let admin: BrokerAdmin;
  let redis: Redis;
  const prefix = `${uniqueName('dedup')}:`;
  const apps: INestApplicationContext[] = [];

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange);
    redis = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await admin?.close();
  });

  it('two instances sharing Redis perform each side effect exactly once, with triple publishes and transient failures', async () => {
    const queue = uniqueName('dedup.shared');
    admin.track('queue', queue, `${queue}.dlq`);
    const ledger = new Ledger();
    const stores = [0, 1].map(() => new RedisDedupStore({ url: REDIS_URL, keyPrefix: prefix }));
    for (const store of stores) apps.push(await createApp(workerModule(queue, store, ledger, uniqueName('dedup-app'))));
    const amqp = apps[0].get(AmqpConnection);

    const orders = Array.from({ length: 150 }, (_, i) => ({ orderId: `order-${i}`, flaky: i % 5 === 0 }));
    for (let copy = 0; copy < 3; copy++) {
      await amqp.publishBatch(orders.map((order) => ({ exchange, routingKey: queue, message: order, options: { messageId: order.orderId } })));
    }
    await waitFor(() => ledger.effects.size === 150, 'every order paid', 20_000);
    // Let stragglers (retries, requeues) drain, then check nothing ran twice.
    await waitFor(async () => (await admin.messageCount(queue)) === 0, 'an empty queue', 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect([...ledger.effects.values()].every((n) => n === 1)).toBe(true);
    const stats = apps.map((app) => app.get(AmqpConnection).getHandlerStats()['Payments.pay']);
    const duplicates = stats.reduce((sum, s) => sum + s.duplicates, 0);
    expect(duplicates).toBeGreaterThanOrEqual(300 - 60);
    expect(await admin.messageCount(`${queue}.dlq`)).toBe(0);
    for (const app of apps.splice(0)) await app.close();
  }, 40_000);

  it('a claim whose consumer died is taken over once its lease expires', async () => {
    const queue = uniqueName('dedup.lease');
    admin.track('queue', queue, `${queue}.dlq`);
    const ledger = new Ledger();
    let release!: () => void;
    ledger.hold = new Promise<void>((resolve) => (release = resolve));
    const deadName = uniqueName('dedup-dying');
    const dying = await createApp(workerModule(queue, new RedisDedupStore({ url: REDIS_URL, keyPrefix: prefix }), ledger, deadName));
    apps.push(dying);
    await dying.get(AmqpConnection).publish(exchange, queue, { orderId: 'lease-1' });
    // The first instance claims the order and hangs; then its connection dies (as if the process crashed).
    await waitFor(async () => (await redis.get(`${prefix}Payments.pay:lease-1`))?.startsWith('p:'), 'the claim');
    await dying.get(AmqpConnection).cancelConsumer('Payments.pay');
    await closeConnectionsNamed(deadName);
    const ledger2 = ledger;
    ledger2.hold = undefined;
    const survivor = await createApp(workerModule(queue, new RedisDedupStore({ url: REDIS_URL, keyPrefix: prefix }), ledger2, uniqueName('dedup-survivor')));
    apps.push(survivor);
    await waitFor(() => ledger.effects.get('lease-1') === 1, 'the takeover after the lease', 10_000);
    release();
  }, 30_000);

  it('messages wait (requeued, not run unguarded) while the Redis store is unreachable, and say so in a log line', async () => {
    const queue = uniqueName('dedup.down');
    admin.track('queue', queue, `${queue}.dlq`);
    const ledger = new Ledger();
    const logger = new CapturingLogger();
    const app = await createApp(
      workerModule(queue, new RedisDedupStore({ url: 'redis://127.0.0.1:1', timeout: 300 }), ledger, uniqueName('dedup-down')),
      logger,
    );
    apps.push(app);
    await app.get(AmqpConnection).publish(exchange, queue, { orderId: 'waits' });
    await waitFor(() => logger.lines.some((l) => l.includes('dedup store is unavailable')), 'the log line', 5000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(ledger.effects.size).toBe(0);
    expect(app.get(AmqpConnection).getHandlerStats()['Payments.pay'].deadLettered).toBe(0);
    await app.close();
    apps.splice(apps.indexOf(app), 1);
    // The message is still there for a later consumer.
    await waitFor(async () => (await admin.messageCount(queue)) === 1, 'the message kept in its queue');
    Logger.overrideLogger(['error']);
  }, 20_000);

  it('the in-memory store absorbs duplicates within one process', async () => {
    const queue = uniqueName('dedup.memory');
    admin.track('queue', queue, `${queue}.dlq`);
    const ledger = new Ledger();
    const app = await createApp(workerModule(queue, new MemoryDedupStore(), ledger, uniqueName('dedup-mem')));
    apps.push(app);
    const amqp = app.get(AmqpConnection);
    for (let i = 0; i < 3; i++) await amqp.publish(exchange, queue, { orderId: 'same' });
    await waitFor(() => app.get(AmqpConnection).getHandlerStats()['Payments.pay'].duplicates === 2, 'two duplicates');
    expect(ledger.effects.get('same')).toBe(1);
  });
});
