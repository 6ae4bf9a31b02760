import { Injectable, Logger } from '@nestjs/common';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { AmqpConnection, RabbitMQModule, RabbitSubscribe, type DedupStore } from '@warren/rabbitmq';
import { RedisDedupStore } from '@warren/rabbitmq/redis';
import { Redis } from 'ioredis';
import { CapturingLogger, suiteApps } from './support/app';
import { AMQP_URL, REDIS_URL, uniqueName, waitFor } from './support/broker';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP proxy in front of Redis that a test takes down and brings back: a Redis outage without touching Redis. */
class RedisProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: URL) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(Number(this.target.port || 6379), this.target.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function outageModule(queue: string, store: DedupStore, processed: Map<string, number>, connectionName: string) {
  @Injectable()
  class Orders {
    @RabbitSubscribe({
      queue,
      prefetch: 10,
      // A quorum queue that dead-letters a message returned more than twice.
      queueOptions: { type: 'quorum', deliveryLimit: 2 },
      deadLetter: true,
      dedup: { store, lease: 5000, key: (m) => (m.payload as { id: string }).id },
    })
    handle(order: { id: string }): void {
      processed.set(order.id, (processed.get(order.id) ?? 0) + 1);
    }
  }
  return {
    imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName, shutdownTimeout: 10_000 })],
    providers: [Orders],
  };
}

describe('dedup store outage', () => {
  const suite = suiteApps();
  const prefix = `${uniqueName('dedup-outage')}:`;
  const proxy = new RedisProxy(new URL(REDIS_URL));
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    await proxy.up();
  });

  afterAll(async () => {
    await proxy.down();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    Logger.overrideLogger(['error']);
  });

  it('holds deliveries (never requeued against the delivery limit) while the store is down, and runs each once when it is back', async () => {
    const queue = uniqueName('dedup-outage.q');
    suite.admin.track('queue', queue, `${queue}.dlq`);
    const processed = new Map<string, number>();
    const logger = new CapturingLogger();
    const store = new RedisDedupStore({ url: proxy.url, keyPrefix: prefix, timeout: 300 });
    const app = await suite.boot(outageModule(queue, store, processed, uniqueName('dedup-outage')), logger);
    const amqp = app.get(AmqpConnection);
    await amqp.publish('', queue, { id: 'warm-up' });
    await waitFor(() => processed.get('warm-up') === 1, 'the first order, with the store up');

    await proxy.down();
    for (let i = 0; i < 5; i++) await amqp.publish('', queue, { id: `order-${i}` });
    // Long enough for several rounds of requeues, had the store errors been requeued.
    await sleep(4500);
    expect(processed.size).toBe(1);
    expect(await suite.admin.messageCount(`${queue}.dlq`)).toBe(0);
    await proxy.up();

    await waitFor(() => processed.size === 6, 'every order processed once the store is back', 15_000);
    await waitFor(async () => (await suite.admin.messageCount(queue)) === 0, 'an empty queue');
    await sleep(300);
    expect([...processed.values()].every((n) => n === 1)).toBe(true);
    expect(await suite.admin.messageCount(`${queue}.dlq`)).toBe(0);
    expect(logger.lines.filter((l) => l.includes('dedup store is unavailable'))).toHaveLength(1);
    expect(logger.lines.filter((l) => l.includes('dedup store is back after'))).toHaveLength(1);
  }, 40_000);

  it('gives a held delivery back at once when the application closes, not after shutdownTimeout', async () => {
    const queue = uniqueName('dedup-outage.close');
    suite.admin.track('queue', queue, `${queue}.dlq`);
    const processed = new Map<string, number>();
    const store = new RedisDedupStore({ url: proxy.url, keyPrefix: prefix, timeout: 300 });
    const app = await suite.boot(outageModule(queue, store, processed, uniqueName('dedup-outage-close')), new CapturingLogger());
    await proxy.down();
    try {
      await app.get(AmqpConnection).publish('', queue, { id: 'held' });
      // Past the first retries, into the longer waits of the backoff.
      await sleep(2500);
      const started = Date.now();
      await suite.close(app);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await proxy.up();
    }
    expect(processed.size).toBe(0);
    await waitFor(async () => (await suite.admin.messageCount(queue)) === 1, 'the message back in its queue');
    expect(await suite.admin.messageCount(`${queue}.dlq`)).toBe(0);
    // Given back as a fresh copy: its handler never ran, so the wait must not count against the quorum
    // queue's delivery limit (a requeue would: redelivered, x-delivery-count 1; RabbitMQ 4 limits to 20 by default).
    const back = await suite.admin.get(queue);
    expect(back && back.fields.redelivered).toBe(false);
    expect(back && Number(back.properties.headers?.['x-delivery-count'] ?? 0)).toBe(0);
    expect(back && JSON.parse(back.content.toString())).toEqual({ id: 'held' });
  }, 30_000);
});
