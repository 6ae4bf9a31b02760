import type { INestApplicationContext } from '@nestjs/common';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { AmqpConnection, MessageEncodingError, RabbitMQModule, type OutboxRelayedInfo, type WarrenTelemetry } from '@warren/rabbitmq';
import { OpenTelemetryTelemetry } from '@warren/rabbitmq/opentelemetry';
import {
  applyOutboxMigration,
  Outbox,
  OutboxRelay,
  OutboxTransactionError,
  OutboxWriteError,
  WarrenOutboxModule,
  type OutboxTransaction,
} from '@warren/rabbitmq/outbox';
import { PrometheusTelemetry } from '@warren/rabbitmq/prometheus';
import * as amqplib from 'amqplib';
import type { Pool, PoolClient } from 'pg';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { TcpProxy } from './faults/support/tcp-proxy';
import { createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, uniqueName, waitFor } from './support/broker';
import { PG_URL, pgEndpoint, pgPool, testSchema } from './support/postgres';

const exchange = uniqueName('outbox.x');
const queue = uniqueName('outbox.q');
const MAX_SIZE = 64 * 1024;

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager().enable();

interface Delivery {
  queue: string;
  routingKey: string;
  messageId: string;
  body: string;
  headers: Record<string, unknown>;
  contentType: string | undefined;
}

/** Counts relay outcomes per instance, from the telemetry hook. */
class RelayCounter implements WarrenTelemetry {
  readonly relayed: OutboxRelayedInfo[] = [];
  onOutboxRelayed(info: OutboxRelayedInfo): void {
    this.relayed.push(info);
  }
  sent(table: string): number {
    return this.relayed.filter((info) => info.table === table && info.outcome === 'sent').length;
  }
}

describe('transactional outbox (PostgreSQL)', () => {
  let db: Pool;
  let schema: { name: string; drop(): Promise<void> };
  let table: string;
  let admin: BrokerAdmin;
  let consumer: amqplib.ChannelModel;
  let channel: amqplib.Channel;
  const deliveries: Delivery[] = [];
  const apps: INestApplicationContext[] = [];
  const pools: Pool[] = [];
  const relays: OutboxRelay[] = [];
  const proxies: TcpProxy[] = [];
  let app: INestApplicationContext;
  let amqp: AmqpConnection;
  let outbox: OutboxRelay;
  let writer: Outbox;
  const registry = new Registry();
  const counter = new RelayCounter();

  const of = (q: string): Delivery[] => deliveries.filter((d) => d.queue === q);

  async function consume(q: string): Promise<void> {
    await channel.consume(
      q,
      (message) => {
        if (!message) return;
        deliveries.push({
          queue: q,
          routingKey: message.fields.routingKey,
          messageId: String(message.properties.messageId),
          body: message.content.toString(),
          headers: message.properties.headers ?? {},
          contentType: message.properties.contentType as string | undefined,
        });
      },
      { noAck: true },
    );
  }

  /** A queue of its own bound to `pattern` on the exchange, consumed into `deliveries`. */
  async function boundQueue(prefix: string, pattern: string): Promise<string> {
    const q = uniqueName(prefix);
    admin.track('queue', q);
    await channel.assertQueue(q);
    await channel.bindQueue(q, exchange, pattern);
    await consume(q);
    return q;
  }

  async function inTransaction<T>(pool: Pool, work: (tx: PoolClient) => Promise<T>, commit = true): Promise<T> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query(commit ? 'COMMIT' : 'ROLLBACK');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async function newTable(name: string): Promise<string> {
    const qualified = `${schema.name}.${name}`;
    await applyOutboxMigration(db, { table: qualified });
    return qualified;
  }

  async function rows(t: string): Promise<Array<{ id: string; status: string; attempts: number; error_code: string | null; error_message: string | null }>> {
    return (await db.query(`SELECT id::text, status, attempts, error_code, error_message FROM ${t} ORDER BY id`)).rows;
  }

  async function rabbitApp(uri: string, telemetry: WarrenTelemetry[] = []): Promise<AmqpConnection> {
    const other = await createApp({ imports: [RabbitMQModule.forRoot({ uri, maxMessageSize: MAX_SIZE, telemetry, connectionInitOptions: { wait: false } })] });
    apps.push(other);
    return other.get(AmqpConnection);
  }

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(contextManager);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    db = pgPool();
    schema = await testSchema(db);
    table = await newTable('warren_outbox');
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange);
    admin.track('queue', queue);
    consumer = await amqplib.connect(AMQP_URL);
    channel = await consumer.createChannel();
    app = await createApp({
      imports: [
        RabbitMQModule.forRoot({
          uri: AMQP_URL,
          maxMessageSize: MAX_SIZE,
          exchanges: [{ name: exchange, type: 'topic' }],
          queues: [{ name: queue, bindings: [{ exchange, routingKey: 'order.*' }] }],
          telemetry: [new PrometheusTelemetry({ registry }), new OpenTelemetryTelemetry(), counter],
        }),
        // A poll far longer than any wait below: what arrives promptly was woken by NOTIFY.
        WarrenOutboxModule.forRoot({
          pool: db,
          table,
          pollInterval: 60_000,
          backlogInterval: 100,
          retryDelay: { min: 60_000, max: 60_000 },
          publishTimeout: 2000,
        }),
      ],
    });
    amqp = app.get(AmqpConnection);
    outbox = app.get(OutboxRelay);
    writer = app.get(Outbox);
    await consume(queue);
  });

  afterAll(async () => {
    for (const relay of relays) await relay.stop();
    await app?.close();
    for (const other of apps) await other.close();
    for (const proxy of proxies) await proxy.close();
    for (const pool of pools) await pool.end().catch(() => undefined);
    await consumer?.close().catch(() => undefined);
    await admin?.cleanup();
    await admin?.close();
    await schema?.drop();
    await db?.end();
    await provider.shutdown();
    contextManager.disable();
  });

  it('publishes after commit, with the message id fixed at write time, in milliseconds (NOTIFY), and nothing for a rollback', async () => {
    const entry = await inTransaction(db, async (tx) => {
      const written = await writer.publish(tx, exchange, 'order.created', { orderId: 'o-1' }, { aggregateKey: 'o-1', headers: { tenant: 'acme' } });
      // Not committed yet: no relay can see the row.
      expect(await outbox.relayOnce()).toBe(0);
      return written;
    });
    const committedAt = Date.now();
    const delivery = await waitFor(() => of(queue).find((d) => d.messageId === entry.messageId), 'the committed event', 5000, 5);
    expect(Date.now() - committedAt).toBeLessThan(5000);
    expect(delivery).toMatchObject({ routingKey: 'order.created', body: '{"orderId":"o-1"}', contentType: 'application/json' });
    expect(delivery.headers.tenant).toBe('acme');

    const rolledBack = await inTransaction(db, (tx) => writer.publish(tx, exchange, 'order.created', { orderId: 'o-2' }), false);
    expect(await outbox.relayOnce()).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE message_id = $1`, [rolledBack.messageId])).rows[0].n).toBe(0);
    expect(of(queue).some((d) => d.messageId === rolledBack.messageId)).toBe(false);
    // Marked sent in the relay's transaction, which commits just after the confirm.
    await waitFor(async () => (await rows(table)).filter((row) => row.status === 'sent').length === 1, 'the row marked sent');
    expect(await rows(table)).toEqual([expect.objectContaining({ status: 'sent', attempts: 1, error_code: null })]);
  });

  it('continues the writer’s trace at publish, and reports relay latency and backlog to Prometheus', async () => {
    const tracer = trace.getTracer('outbox-test');
    const { entry, traceId } = await tracer.startActiveSpan('place order', async (span) => {
      const written = await inTransaction(db, (tx) => writer.publish(tx, exchange, 'order.paid', { orderId: 'o-3' }));
      span.end();
      return { entry: written, traceId: span.spanContext().traceId };
    });
    const delivery = await waitFor(() => of(queue).find((d) => d.messageId === entry.messageId), 'the traced event', 5000);
    expect(String(delivery.headers.traceparent)).toContain(traceId);
    const publishSpan = await waitFor(
      () => exporter.getFinishedSpans().find((s) => s.name === `publish ${exchange}` && s.spanContext().traceId === traceId),
      'the publish span',
    );
    expect(publishSpan.spanContext().traceId).toBe(traceId);

    // The relay reports after its commit, which may come after the delivery.
    await waitFor(async () => {
      const latency = await registry.getSingleMetric('warren_outbox_relay_latency_seconds')!.get();
      const count = latency.values.find(
        (v) => (v as { metricName?: string }).metricName === 'warren_outbox_relay_latency_seconds_count' && v.labels.table === table,
      );
      return (count?.value ?? 0) >= 2;
    }, 'two relay latencies observed');
    await waitFor(async () => {
      const backlog = await registry.getSingleMetric('warren_outbox_backlog_messages')!.get();
      return backlog.values.find((v) => v.labels.table === table && v.labels.status === 'pending')?.value === 0;
    }, 'the backlog gauge at 0');
  });

  it('rejects bad input at write time with typed errors, and the same transaction goes on', async () => {
    const good = await inTransaction(db, async (tx) => {
      await expect(writer.publish(tx, exchange, 'order.created', { big: 10n })).rejects.toMatchObject({ code: 'MESSAGE_ENCODING', field: 'body' });
      await expect(writer.publish(tx, exchange, 'order.created', {}, { headers: { blob: Buffer.from('x') } })).rejects.toThrow(MessageEncodingError);
      await expect(writer.publish(tx, exchange, 'order.created', {}, { headers: { at: new Date() } })).rejects.toMatchObject({ field: 'headers.at' });
      await expect(writer.publish(tx, exchange, 'order.created', {}, { priority: 'high' as unknown as number })).rejects.toMatchObject({ field: 'priority' });
      return writer.publish(tx, exchange, 'order.created', { orderId: 'o-4' });
    });
    await waitFor(() => of(queue).find((d) => d.messageId === good.messageId), 'the good event written after the refused ones', 5000);

    await expect(writer.publish({} as OutboxTransaction, exchange, 'order.created', {})).rejects.toThrow(OutboxTransactionError);
    await expect(writer.publish(db, exchange, 'order.created', {})).rejects.toMatchObject({ code: 'OUTBOX_NOT_IN_TRANSACTION', reason: 'pool' });

    const missing = new Outbox({ table: `${schema.name}.no_such_table` });
    const error = await inTransaction(db, (tx) => missing.publish(tx, exchange, 'order.created', {}).catch((e: unknown) => e), false);
    expect(error).toBeInstanceOf(OutboxWriteError);
    expect(error).toMatchObject({ code: 'OUTBOX_TABLE_MISSING', sqlState: '42P01' });
    expect((error as Error).message).toContain('applyOutboxMigration');
  });

  it('writes through a TypeORM transactional EntityManager and QueryRunner, and refuses them outside a transaction', async () => {
    const dataSource = new DataSource({ type: 'postgres', url: PG_URL, poolSize: 2 });
    await dataSource.initialize();
    try {
      const viaManager = await dataSource.transaction((manager) => writer.publish(manager, exchange, 'order.created', { via: 'manager' }));
      const rolledBack = await dataSource
        .transaction(async (manager) => {
          const entry = await writer.publish(manager, exchange, 'order.created', { via: 'rolled back' });
          throw Object.assign(new Error('business rule failed'), { entry });
        })
        .catch((error: { entry: { messageId: string } }) => error.entry);
      const runner = dataSource.createQueryRunner();
      await expect(writer.publish(runner, exchange, 'order.created', {})).rejects.toMatchObject({
        code: 'OUTBOX_NOT_IN_TRANSACTION',
        reason: 'not-in-transaction',
      });
      await runner.startTransaction();
      const viaRunner = await writer.publish(runner, exchange, 'order.created', { via: 'runner' });
      await runner.commitTransaction();
      await runner.release();
      await expect(writer.publish(dataSource.manager, exchange, 'order.created', {})).rejects.toThrow(OutboxTransactionError);

      await waitFor(() => of(queue).some((d) => d.messageId === viaManager.messageId), 'the event written through the EntityManager', 5000);
      await waitFor(() => of(queue).some((d) => d.messageId === viaRunner.messageId), 'the event written through the QueryRunner', 5000);
      expect((await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE message_id = $1`, [rolledBack.messageId])).rows[0].n).toBe(0);
    } finally {
      await dataSource.destroy();
    }
  });

  it('parks an unroutable row with its reason, does not retry it, and replays it once a queue is bound; the traffic around it flows', async () => {
    const lostKey = `lost.${Date.now()}`;
    const written = await inTransaction(db, async (tx) => {
      const before = await writer.publish(tx, exchange, 'order.created', { n: 1 }, { aggregateKey: 'k-park' });
      const lost = await writer.publish(tx, exchange, lostKey, { n: 2 }, { aggregateKey: 'k-park' });
      const after = await writer.publish(tx, exchange, 'order.created', { n: 3 }, { aggregateKey: 'k-park' });
      return { before, lost, after };
    });
    await waitFor(() => of(queue).find((d) => d.messageId === written.after.messageId), 'the row after the unroutable one', 5000);
    expect(of(queue).map((d) => d.messageId)).toEqual(expect.arrayContaining([written.before.messageId, written.after.messageId]));
    const parked = await waitFor(async () => (await outbox.held()).find((row) => row.messageId === written.lost.messageId), 'the parked row');
    expect(parked).toMatchObject({ status: 'parked', errorCode: 'UNROUTABLE', attempts: 1, routingKey: lostKey });
    expect(parked.errorMessage).toContain(lostKey);
    // Two more passes of the relay: a parked row is not claimed again.
    expect(await outbox.relayOnce()).toBe(0);
    expect(await outbox.relayOnce()).toBe(0);
    expect((await outbox.held()).find((row) => row.messageId === written.lost.messageId)?.attempts).toBe(1);
    expect((await outbox.backlog()).parked).toBeGreaterThanOrEqual(1);

    const late = await boundQueue('outbox.late', 'lost.#');
    expect(await outbox.replay({ ids: [parked.id] })).toBe(1);
    const replayed = await waitFor(() => of(late).find((d) => d.messageId === written.lost.messageId), 'the replayed row', 5000);
    expect(replayed.body).toBe('{"n":2}');
  });

  it('records a typed error on a row that cannot be published, and publishes the rows around it (same key too)', async () => {
    const missingExchange = uniqueName('outbox.none');
    const written = await inTransaction(db, async (tx) => {
      const list = [await writer.publish(tx, exchange, 'order.created', { n: 'first' }, { aggregateKey: 'k-bad' })];
      list.push(await writer.publish(tx, missingExchange, 'order.created', { n: 'no exchange' }, { aggregateKey: 'k-bad' }));
      list.push(await writer.publish(tx, exchange, 'order.created', { n: 'wrong user' }, { userId: 'not-the-connection-user' }));
      list.push(await writer.publish(tx, exchange, 'order.created', 'x'.repeat(MAX_SIZE + 1)));
      list.push(await writer.publish(tx, exchange, 'order.created', { n: 'tampered' }));
      // A row another writer stored with a property the broker cannot encode.
      await tx.query(`UPDATE ${table} SET properties = '{"priority": "urgent"}'::jsonb WHERE id = $1`, [list[4].id]);
      list.push(await writer.publish(tx, exchange, 'order.created', { n: 'last' }, { aggregateKey: 'k-bad' }));
      return list;
    });
    const [first, noExchange, wrongUser, tooLarge, tampered, last] = written;
    await waitFor(() => of(queue).find((d) => d.messageId === last.messageId), 'the last row of the key', 10_000);
    let byId = new Map<string, Awaited<ReturnType<typeof rows>>[number]>();
    await waitFor(
      async () => {
        byId = new Map((await rows(table)).map((row) => [row.id, row]));
        return [noExchange, wrongUser, tooLarge, tampered].every((w) => byId.get(w.id)?.status === 'failed');
      },
      'the failed rows',
      10_000,
    );
    expect(byId.get(noExchange.id)).toMatchObject({ status: 'failed', error_code: 'EXCHANGE_NOT_FOUND', attempts: 1 });
    expect(byId.get(wrongUser.id)).toMatchObject({ status: 'failed', error_code: 'PUBLISH_FAILED' });
    expect(byId.get(tooLarge.id)).toMatchObject({ status: 'failed', error_code: 'MESSAGE_TOO_LARGE' });
    expect(byId.get(tampered.id)).toMatchObject({ status: 'failed', error_code: 'MESSAGE_ENCODING' });
    expect(byId.get(noExchange.id)?.error_message).toContain(missingExchange);
    const mine = of(queue).filter((d) => written.some((w) => w.messageId === d.messageId));
    expect(mine.map((d) => d.messageId)).toEqual([first.messageId, last.messageId]);
    const failed = await outbox.held({ status: ['failed'] });
    expect(failed.map((row) => row.id)).toEqual(expect.arrayContaining([noExchange.id, wrongUser.id, tooLarge.id, tampered.id]));
  });

  it('keeps a nacked row pending with its error and a later retry, holding back the later rows of its key only', async () => {
    const full = uniqueName('outbox.full');
    admin.track('queue', full);
    await channel.assertQueue(full, { arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    await channel.bindQueue(full, exchange, 'full.*');
    const written = await inTransaction(db, async (tx) => {
      const filler = await writer.publish(tx, exchange, 'full.one', { n: 0 });
      const nacked = await writer.publish(tx, exchange, 'full.two', { n: 1 }, { aggregateKey: 'k-full' });
      const behind = await writer.publish(tx, exchange, 'order.created', { n: 2 }, { aggregateKey: 'k-full' });
      const other = await writer.publish(tx, exchange, 'order.created', { n: 3 }, { aggregateKey: 'k-other' });
      return { filler, nacked, behind, other };
    });
    await waitFor(() => of(queue).some((d) => d.messageId === written.other.messageId), 'the row of another key', 5000);
    const state = async (): Promise<Map<string, { status: string; attempts: number; error_code: string | null }>> =>
      new Map((await rows(table)).map((row) => [row.id, row]));
    const nacked = await waitFor(
      async () => {
        const row = (await state()).get(written.nacked.id);
        return row?.attempts === 1 ? row : undefined;
      },
      'the nacked row recorded',
      15_000,
    );
    expect(nacked).toMatchObject({ status: 'pending', error_code: 'PUBLISH_NACKED' });
    const available = (await db.query(`SELECT available_at > clock_timestamp() AS later FROM ${table} WHERE id = $1`, [written.nacked.id])).rows[0];
    expect(available.later).toBe(true);
    expect((await state()).get(written.behind.id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(of(queue).some((d) => d.messageId === written.behind.messageId)).toBe(false);

    // Room in the queue and the retry due now: the row goes, then the one behind it.
    await channel.purgeQueue(full);
    await db.query(`UPDATE ${table} SET available_at = clock_timestamp() WHERE id = $1`, [written.nacked.id]);
    outbox.wake();
    await waitFor(() => of(queue).some((d) => d.messageId === written.behind.messageId), 'the row behind the retried one', 5000);
    await waitFor(async () => (await state()).get(written.nacked.id)?.status === 'sent', 'the retried row marked sent');
    expect((await state()).get(written.nacked.id)).toMatchObject({ status: 'sent', attempts: 2, error_code: null });
  });

  it('with notify: false, a commit sends no NOTIFY and the row goes at the relay’s next look', async () => {
    const listener = await db.connect();
    const heard: string[] = [];
    listener.on('notification', (message) => heard.push(message.channel));
    try {
      await listener.query(`LISTEN "${table}"`);
      const quiet = new Outbox({ table, notify: false });
      const silent = await inTransaction(db, (tx) => quiet.publish(tx, exchange, 'order.created', { quiet: true }));
      const loud = await inTransaction(db, (tx) => writer.publish(tx, exchange, 'order.created', { quiet: false }));
      // Notifications arrive in commit order: once the second commit's is heard, the first's would have been.
      await waitFor(() => heard.length >= 1, 'the NOTIFY of the second commit');
      await waitFor(() => of(queue).some((d) => d.messageId === loud.messageId), 'the notified row', 5000);
      expect(heard).toEqual([table]);
      // The relay polls every 60 s here: look now, as the next poll would.
      outbox.wake();
      await waitFor(() => of(queue).some((d) => d.messageId === silent.messageId), 'the quiet row, found by a look at the table', 5000);
    } finally {
      await listener.query('UNLISTEN *').catch(() => undefined);
      listener.release();
    }
    expect(() => new Outbox({ table, notify: 'no' as unknown as boolean })).toThrow(/outbox\.notify must be true or false/);
  });

  it('forRootAsync with relay: false writes and does not relay', async () => {
    const quiet = await newTable('outbox_quiet');
    const writerApp = await createApp({
      imports: [
        RabbitMQModule.forRoot({ uri: AMQP_URL }),
        WarrenOutboxModule.forRootAsync({ useFactory: () => Promise.resolve({ pool: db, table: quiet, relay: false }) }),
      ],
    });
    apps.push(writerApp);
    expect(writerApp.get(OutboxRelay).isRunning).toBe(false);
    const entry = await inTransaction(db, (tx) => writerApp.get(Outbox).publish(tx, exchange, 'order.created', { quiet: true }));
    expect(await rows(quiet)).toEqual([expect.objectContaining({ id: entry.id, status: 'pending' })]);
    expect(outbox.isRunning).toBe(true);
  });

  it('with two relays on one table: every row published by exactly one of them, in order per aggregate key', async () => {
    const pair = await newTable('outbox_pair');
    const q = await boundQueue('outbox.pair', 'pair.*');
    const counters = [new RelayCounter(), new RelayCounter()];
    for (const c of counters) {
      const connection = await rabbitApp(AMQP_URL, [c]);
      const pool = pgPool();
      pools.push(pool);
      const relay = new OutboxRelay(pool, connection, { table: pair, batchSize: 7, pollInterval: 50 });
      relays.push(relay);
    }
    const pairWriter = new Outbox({ table: pair });
    const KEYS = 20;
    const PER_KEY = 25;
    relays.forEach((relay) => relay.start());
    // Writers interleave: each transaction writes the next event of every key.
    for (let seq = 0; seq < PER_KEY; seq++) {
      await inTransaction(db, async (tx) => {
        for (let key = 0; key < KEYS; key++) await pairWriter.publish(tx, exchange, 'pair.event', { key, seq }, { aggregateKey: `key-${key}` });
      });
    }
    await waitFor(() => of(q).length >= KEYS * PER_KEY, `${KEYS * PER_KEY} events`, 30_000, 50);
    const ids = of(q).map((d) => d.messageId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(KEYS * PER_KEY);
    // Each relay reports after its commit, which may come after the delivery.
    await waitFor(() => counters[0].sent(pair) + counters[1].sent(pair) >= KEYS * PER_KEY, 'both relays to report');
    expect(counters[0].sent(pair) + counters[1].sent(pair)).toBe(KEYS * PER_KEY);
    for (let key = 0; key < KEYS; key++) {
      const seqs = of(q)
        .map((d) => JSON.parse(d.body) as { key: number; seq: number })
        .filter((body) => body.key === key)
        .map((body) => body.seq);
      expect(seqs).toEqual([...Array(PER_KEY).keys()]);
    }
    expect((await rows(pair)).every((row) => row.status === 'sent' && row.attempts === 1)).toBe(true);
  });

  it('keeps rows while the broker is unreachable, shows the backlog and its age, and drains after; deletes sent rows after the retention', async () => {
    const waiting = await newTable('outbox_broker');
    const q = await boundQueue('outbox.broker', 'broker.*');
    const proxy = await TcpProxy.create({ host: new URL(AMQP_URL).hostname, port: Number(new URL(AMQP_URL).port || 5672) });
    proxies.push(proxy);
    await proxy.setMode('forward');
    const promRegistry = new Registry();
    const url = new URL(AMQP_URL);
    url.port = String(proxy.port);
    const connection = await rabbitApp(url.toString(), [new PrometheusTelemetry({ registry: promRegistry })]);
    await waitFor(() => connection.isConnected, 'the connection through the proxy');
    const relay = new OutboxRelay(db, connection, { table: waiting, pollInterval: 100, backlogInterval: 100, retention: 300, cleanupInterval: 100 });
    relays.push(relay);
    relay.start();
    await proxy.setMode('refuse');
    await waitFor(() => !connection.isConnected, 'the connection to drop');
    const waitingWriter = new Outbox({ table: waiting });
    const written = await inTransaction(db, async (tx) => {
      const list = [];
      for (let i = 0; i < 30; i++) list.push(await waitingWriter.publish(tx, exchange, 'broker.event', { i }));
      return list;
    });
    const gauge = async (name: string, labels: Record<string, string>): Promise<number | undefined> =>
      (await promRegistry.getSingleMetric(name)?.get())?.values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))?.value;
    await waitFor(async () => (await gauge('warren_outbox_backlog_messages', { table: waiting, status: 'pending' })) === 30, 'the backlog gauge to show 30');
    await waitFor(async () => ((await gauge('warren_outbox_oldest_pending_age_seconds', { table: waiting })) ?? 0) >= 0.3, 'the backlog age to grow');
    expect(of(q)).toHaveLength(0);
    expect((await rows(waiting)).every((row) => row.status === 'pending' && row.attempts === 0)).toBe(true);

    await proxy.setMode('forward');
    await waitFor(() => of(q).length >= 30, 'the backlog to drain', 20_000);
    expect(new Set(of(q).map((d) => d.messageId))).toEqual(new Set(written.map((w) => w.messageId)));
    await waitFor(async () => (await gauge('warren_outbox_backlog_messages', { table: waiting, status: 'pending' })) === 0, 'the backlog gauge back to 0');
    await waitFor(async () => (await rows(waiting)).length === 0, 'retention to delete the sent rows', 10_000);
  });

  it('backs off while the database is unreachable and resumes after, publishing each row once', async () => {
    const dbTable = await newTable('outbox_db');
    const q = await boundQueue('outbox.db', 'db.*');
    const proxy = await TcpProxy.create(pgEndpoint());
    proxies.push(proxy);
    await proxy.setMode('forward');
    const proxied = pgPool({ port: proxy.port });
    pools.push(proxied);
    const relay = new OutboxRelay(proxied, amqp, { table: dbTable, pollInterval: 100, outageBackoff: { min: 50, max: 400 } });
    relays.push(relay);
    relay.start();
    const dbWriter = new Outbox({ table: dbTable });
    const early = await inTransaction(db, (tx) => dbWriter.publish(tx, exchange, 'db.event', { n: 0 }));
    await waitFor(() => of(q).some((d) => d.messageId === early.messageId), 'an event before the outage', 5000);

    await proxy.setMode('refuse');
    const written = await inTransaction(db, async (tx) => {
      const list = [];
      for (let i = 1; i <= 20; i++) list.push(await dbWriter.publish(tx, exchange, 'db.event', { n: i }));
      return list;
    });
    await waitFor(() => relay.isDatabaseDown, 'the relay to see the outage', 10_000);
    expect(of(q)).toHaveLength(1);

    await proxy.setMode('forward');
    await waitFor(() => of(q).length >= 21, 'the rows written during the outage', 20_000);
    await waitFor(() => !relay.isDatabaseDown, 'the relay to see the database again');
    const ids = of(q).map((d) => d.messageId);
    expect(new Set(ids).size).toBe(21);
    expect(ids).toEqual(expect.arrayContaining(written.map((w) => w.messageId)));
  });
});
