import { ScenarioUnavailableError, BenchIntegrityError, type ScenarioContext, type ScenarioOutcome } from './scenario';
import type { Contender } from '../contender';
import { runBounded } from '../support/drive';
import { MeasureWindow } from '../support/measure';
import { makePayload } from '../support/payload';

/** The PostgreSQL the scenario writes orders to (trust auth, as in the test suites). */
const DATABASE_URL = process.env.DATABASE_URL ?? process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface PgClient {
  query(sql: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
  release(): void;
}
interface PgPool {
  query(sql: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
  connect(): Promise<PgClient>;
  end(): Promise<void>;
  on(event: 'error', listener: () => void): void;
}
interface AmqpConnectionLike {
  publish(exchange: string, routingKey: string, message: unknown, options?: Record<string, unknown>): Promise<void>;
}
interface OutboxLike {
  publish(tx: PgClient, exchange: string, routingKey: string, message: unknown, options?: Record<string, unknown>): Promise<unknown>;
}
interface RelayLike {
  start(): void;
  stop(): Promise<void>;
}

// Loaded at run time, like the contenders: the suite compiles whatever the library's state.
/* eslint-disable @typescript-eslint/no-require-imports */
function load(): {
  Pool: new (options: Record<string, unknown>) => PgPool;
  NestFactory: { createApplicationContext(module: unknown, options: unknown): Promise<{ get(token: unknown): unknown; close(): Promise<void> }> };
  warren: { RabbitMQModule: { forRoot(options: unknown): unknown }; AmqpConnection: unknown };
  outbox: {
    Outbox: new (options: { table: string; notify?: boolean }) => OutboxLike;
    OutboxRelay: new (pool: PgPool, connection: AmqpConnectionLike, options: Record<string, unknown>) => RelayLike;
    applyOutboxMigration(db: PgPool, options: { table: string }): Promise<void>;
  };
} {
  try {
    return {
      Pool: (require('pg') as { Pool: new (options: Record<string, unknown>) => PgPool }).Pool,
      NestFactory: (require('@nestjs/core') as { NestFactory: never }).NestFactory,
      warren: require('@warren/rabbitmq') as never,
      outbox: require('@warren/rabbitmq/outbox') as never,
    };
  } catch (error) {
    throw new ScenarioUnavailableError(`the outbox scenario needs pg and the built library: ${(error as Error).message.split('\n')[0]}`);
  }
}
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * Orders written to PostgreSQL with their event, `concurrency` (20) at a time, three ways in the
 * same trial: (1) commit the order, then publish its event with a confirm (the dual write); (2)
 * commit the order and its event in one transaction through the outbox, the relay woken by NOTIFY
 * publishing after the commit; (3) the same without NOTIFY, the relay polling every 100 ms. Each
 * figure is orders/s until every event is confirmed; the relay latency is the outbox rows'
 * commit-to-confirm time (database clock). The queues must then hold exactly one message per order.
 */
export async function runOutbox(contender: Contender, ctx: ScenarioContext): Promise<ScenarioOutcome> {
  if (contender.name !== 'warren') throw new ScenarioUnavailableError('the outbox is a Warren feature');
  const { Pool, NestFactory, warren, outbox } = load();
  const p = ctx.params;
  const direct = ctx.route('direct', 'order.direct');
  const relayed = ctx.route('outbox', 'order.outbox');
  await ctx.helper.declareRoute(direct);
  await ctx.helper.declareRoute(relayed);

  const schema = `bench_${p.namePrefix.toLowerCase().replace(/[^a-z0-9_]+/g, '_')}`.slice(0, 60);
  const pool = new Pool({ connectionString: DATABASE_URL, max: p.concurrency + 4 });
  pool.on('error', () => undefined);
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new ScenarioUnavailableError(`no PostgreSQL at ${DATABASE_URL.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')}: ${(error as Error).message}`);
  }
  const orders = `"${schema}".orders`;
  const table = `${schema}.outbox`;
  await pool.query(`CREATE SCHEMA "${schema}"`);
  await pool.query(`CREATE TABLE ${orders} (id text PRIMARY KEY, body text NOT NULL)`);
  await outbox.applyOutboxMigration(pool, { table });

  const app = await NestFactory.createApplicationContext(
    warren.RabbitMQModule.forRoot({ uri: p.url, connectionName: p.namePrefix, connectionInitOptions: { wait: true, timeout: 30_000 } }),
    { logger: false },
  );
  const amqp = app.get(warren.AmqpConnection) as AmqpConnectionLike;
  const writer = new outbox.Outbox({ table });
  const quietWriter = new outbox.Outbox({ table, notify: false });
  const relay = new outbox.OutboxRelay(pool, amqp, { table, batchSize: 200, pollInterval: 100 });
  const order = async (id: string, work: (client: PgClient) => Promise<void>): Promise<void> => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${orders} (id, body) VALUES ($1, $2)`, [id, 'order']);
      await work(client);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  };

  try {
    const deadline = Date.now() + p.budgetMs;
    // (1) Commit, then publish with a confirm.
    const directWindow = new MeasureWindow();
    directWindow.start();
    const directCount = await runBounded(p.count, p.concurrency, deadline, async (i) => {
      await order(`d-${i}`, async () => undefined);
      await amqp.publish(direct.exchange, direct.routingKey, makePayload(i), { messageId: `d-${i}` });
    });
    const directMs = directWindow.stop().durationMs;

    // (2) Order and event in one transaction; the relay publishes after the commit (woken by NOTIFY).
    // (3) The same with notify: false: the relay finds the rows by polling (every 100 ms).
    relay.start();
    const drained = async (): Promise<void> => {
      const relayDeadline = Date.now() + 60_000;
      for (;;) {
        const pending = Number((await pool.query(`SELECT count(*) AS n FROM ${table} WHERE status <> 'sent'`)).rows[0].n);
        if (pending === 0) return;
        if (Date.now() > relayDeadline) throw new BenchIntegrityError(`${pending} outbox rows still not sent 60 s after the last commit`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    const throughOutbox = async (prefix: string, through: OutboxLike): Promise<{ count: number; durationMs: number; cpuUs: number }> => {
      const window = new MeasureWindow();
      window.start();
      const count = await runBounded(p.count, p.concurrency, Date.now() + p.budgetMs, (i) =>
        order(`${prefix}-${i}`, async (client) => {
          await through.publish(client, relayed.exchange, relayed.routingKey, makePayload(i), { messageId: `${prefix}-${i}`, aggregateKey: `${prefix}-${i}` });
        }),
      );
      await drained();
      return { count, ...window.stop() };
    };
    const notified = await throughOutbox('o', writer);
    const polled = await throughOutbox('q', quietWriter);
    await relay.stop();
    const outboxCount = notified.count;
    const w = notified;

    const percentiles = async (prefix: string): Promise<{ p50: number; p99: number }> =>
      (
        await pool.query(
          `SELECT (percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at)) * 1000)::float8 AS p50, ` +
            `(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at)) * 1000)::float8 AS p99 FROM ${table} WHERE message_id LIKE $1`,
          [`${prefix}-%`],
        )
      ).rows[0] as { p50: number; p99: number };
    const latency = await percentiles('o');
    const polledLatency = await percentiles('q');
    for (const [route, expected] of [
      [direct, directCount],
      [relayed, outboxCount + polled.count],
    ] as const) {
      const inQueue = await ctx.helper.waitForCount(route.queue, expected, 3_000);
      if (inQueue !== expected) throw new BenchIntegrityError(`queue ${route.queue} holds ${inQueue ?? 'no queue'} messages, expected ${expected}`);
    }
    return {
      metrics: {
        throughput: outboxCount / (w.durationMs / 1000),
        directThroughput: directCount / (directMs / 1000),
        relayP50Ms: latency.p50,
        relayP99Ms: latency.p99,
        polledThroughput: polled.count / (polled.durationMs / 1000),
        polledP50Ms: polledLatency.p50,
        polledP99Ms: polledLatency.p99,
      },
      ops: outboxCount,
      durationMs: w.durationMs,
      cpuUs: w.cpuUs,
      cpuUsPerOp: w.cpuUs / outboxCount,
      truncated: outboxCount < p.count || directCount < p.count || polled.count < p.count,
      settings: { confirms: true, noDelay: true, prefetch: null, persistent: true, notes: [] },
      notes: [`${p.concurrency} orders in flight; PostgreSQL at ${new URL(DATABASE_URL).host}`],
    };
  } finally {
    await relay.stop().catch(() => undefined);
    await app.close().catch(() => undefined);
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pool.end().catch(() => undefined);
  }
}
