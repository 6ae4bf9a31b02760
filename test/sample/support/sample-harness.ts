import { type INestApplication, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AmqpConnection, type HandlerStats } from '@warren/rabbitmq';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import type { Order } from '../../../apps/common/src/contracts';
import { loadSampleConfig, type SampleConfig } from '../../../apps/common/src/sample-config';
import { sampleNames, type SampleNames } from '../../../apps/common/src/sample-names';
import { InventoryModule } from '../../../apps/inventory/src/inventory.module';
import { NotificationsModule } from '../../../apps/notifications/src/notifications.module';
import type { SentNotification } from '../../../apps/notifications/src/notification.log';
import { createOrdersApp } from '../../../apps/orders/src/orders.app';
import type { Charge } from '../../../apps/payments/src/payment-gateway.simulator';
import { PaymentsModule } from '../../../apps/payments/src/payments.module';
import { AMQP_URL, BrokerAdmin, REDIS_URL, uniqueName } from '../../support/broker';
import { HttpClient } from './http-client';

export interface HarnessOptions {
  /** Payments workers competing for the queue. @default 1 */
  paymentWorkers?: number;
  /** Notifications instances (each gets its own copy of a broadcast). @default 1 */
  notificationInstances?: number;
  /** Settings over the test defaults (short delays). */
  config?: Partial<SampleConfig>;
}

/** Test defaults: a namespace of its own, and delays of a few hundred ms. */
function testConfig(namespace: string, overrides: Partial<SampleConfig>): SampleConfig {
  return loadSampleConfig(
    { AMQP_URL, REDIS_URL },
    {
      namespace,
      ordersPort: 0,
      paymentRetry: { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 400, jitter: 0.2 },
      reminderDelayMs: 300,
      shippingWorkMs: 0,
      heartbeatMs: 200,
      inventoryTimeoutMs: 3000,
      logLevels: process.env.TEST_LOGS ? ['fatal', 'error', 'warn', 'log'] : ['fatal', 'error'],
      ...overrides,
    },
  );
}

/**
 * The whole sample in this process, against the real broker and Redis: each
 * service is its own Nest application (as in production, where each is its own
 * process), all in one namespace no other run uses. `stop()` closes them and
 * deletes the namespace's queues, exchanges and Redis keys.
 */
export class SampleHarness {
  private constructor(
    readonly config: SampleConfig,
    readonly names: SampleNames,
    readonly http: HttpClient,
    readonly redis: Redis,
    readonly admin: BrokerAdmin,
    readonly orders: INestApplication,
    public inventory: INestApplicationContext | undefined,
    readonly payments: INestApplicationContext[],
    readonly notifications: INestApplicationContext[],
  ) {}

  static async start(options: HarnessOptions = {}): Promise<SampleHarness> {
    const namespace = `${uniqueName('sample')}.`;
    const config = testConfig(namespace, options.config ?? {});
    const names = sampleNames(namespace);
    const admin = await BrokerAdmin.connect();
    admin.track('queue', ...Object.values(names.queues));
    admin.track('exchange', ...Object.values(names.exchanges));
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
    const started: INestApplicationContext[] = [];
    const context = async (module: Parameters<typeof NestFactory.createApplicationContext>[0]): Promise<INestApplicationContext> => {
      const app = await NestFactory.createApplicationContext(module, { logger: config.logLevels, abortOnError: false });
      started.push(app);
      return app;
    };
    try {
      const inventory = await context(InventoryModule.forRoot({ ...config, instanceId: 'inventory-1' }));
      const payments: INestApplicationContext[] = [];
      for (let i = 1; i <= (options.paymentWorkers ?? 1); i++) payments.push(await context(PaymentsModule.forRoot({ ...config, instanceId: `payments-${i}` })));
      const notifications: INestApplicationContext[] = [];
      for (let i = 1; i <= (options.notificationInstances ?? 1); i++) {
        notifications.push(await context(NotificationsModule.forRoot({ ...config, instanceId: `notifications-${i}` })));
      }
      const orders = await createOrdersApp({ ...config, instanceId: 'orders-1' }, { logger: config.logLevels });
      started.push(orders);
      await orders.listen(0, '127.0.0.1');
      const { port } = orders.getHttpServer().address() as { port: number };
      return new SampleHarness(config, names, new HttpClient(`http://127.0.0.1:${port}`), redis, admin, orders, inventory, payments, notifications);
    } catch (error) {
      for (const app of started.reverse()) await app.close().catch(() => undefined);
      await SampleHarness.deleteKeys(redis, names);
      await SampleHarness.dropSchema(config, names);
      redis.disconnect();
      await admin.close();
      throw error;
    }
  }

  /** Starts inventory again (after `stopInventory`). */
  async startInventory(): Promise<void> {
    this.inventory = await NestFactory.createApplicationContext(InventoryModule.forRoot({ ...this.config, instanceId: 'inventory-2' }), {
      logger: this.config.logLevels,
      abortOnError: false,
    });
  }

  async stopInventory(): Promise<void> {
    await this.inventory?.close();
    this.inventory = undefined;
  }

  /**
   * Binds a queue of the test's own to the orders exchange, to count what was
   * really published (the services' own dedup would hide a second event).
   */
  async trackEvents(routingKey: string): Promise<string> {
    const queue = `${this.config.namespace}test.tracker.${routingKey}`;
    this.admin.track('queue', queue);
    await this.admin.raw(async (channel) => {
      await channel.assertQueue(queue, { durable: false });
      await channel.bindQueue(queue, this.names.exchanges.orders, routingKey);
    });
    return queue;
  }

  /** Takes every message off a tracking queue; returns their payloads. */
  async drain<T>(queue: string): Promise<T[]> {
    const payloads: T[] = [];
    for (;;) {
      const message = await this.admin.get(queue);
      if (message === false) return payloads;
      payloads.push(JSON.parse(message.content.toString()) as T);
    }
  }

  /** Handler statistics summed over every payments worker. */
  paymentStats(): HandlerStats {
    const total: HandlerStats = { handled: 0, failed: 0, retried: 0, deadLettered: 0, duplicates: 0 };
    for (const worker of this.payments) {
      const stats = worker.get(AmqpConnection).getHandlerStats()['payments.charge'];
      if (!stats) continue;
      for (const key of Object.keys(total) as Array<keyof HandlerStats>) total[key] += stats[key];
    }
    return total;
  }

  /** Every charge the simulated gateway made. */
  async charges(): Promise<Charge[]> {
    return (await this.redis.lrange(this.names.keys.charges, 0, -1)).map((raw) => JSON.parse(raw) as Charge);
  }

  async notificationsSent(): Promise<SentNotification[]> {
    return (await this.redis.lrange(this.names.keys.notifications, 0, -1)).map((raw) => JSON.parse(raw) as SentNotification);
  }

  async allOrders(): Promise<Order[]> {
    const ids = await this.redis.zrange(`${this.names.redisPrefix}orders`, 0, -1);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => `${this.names.redisPrefix}order:${id}`));
    return raws.filter((raw): raw is string => raw !== null).map((raw) => JSON.parse(raw) as Order);
  }

  async stop(): Promise<void> {
    // The HTTP entry first, then the consumers, then the RPC server they may still call.
    await this.orders.close().catch(() => undefined);
    for (const app of [...this.notifications, ...this.payments]) await app.close().catch(() => undefined);
    await this.inventory?.close().catch(() => undefined);
    await this.admin.close();
    await SampleHarness.deleteKeys(this.redis, this.names);
    await SampleHarness.dropSchema(this.config, this.names);
    await this.redis.quit().catch(() => undefined);
  }

  /** The orders service's PostgreSQL schema of this run: orders and outbox. */
  private static async dropSchema(config: SampleConfig, names: SampleNames): Promise<void> {
    const pool = new Pool({ connectionString: config.databaseUrl, max: 1 });
    try {
      await pool.query(`DROP SCHEMA IF EXISTS "${names.database.schema}" CASCADE`);
    } finally {
      await pool.end();
    }
  }

  private static async deleteKeys(redis: Redis, names: SampleNames): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${names.redisPrefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  }
}
