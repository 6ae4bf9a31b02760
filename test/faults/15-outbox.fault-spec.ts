import type { INestApplicationContext } from '@nestjs/common';
import { AmqpConnection, MemoryDedupStore, RabbitMQModule } from '@warren/rabbitmq';
import { applyOutboxMigration, Outbox, OutboxRelay, OutboxWriteError } from '@warren/rabbitmq/outbox';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import * as amqplib from 'amqplib';
import { Pool, type PoolClient } from 'pg';
import { BrokerAdmin } from '../support/broker';
import { pgEndpoint, pgPool, PG_URL, testSchema } from '../support/postgres';
import { capture } from './support/capture';
import { TotalQueueChecker } from './support/checker';
import { DEFAULT_HOST, DEFAULT_PORT, faultUrl } from './support/fault-env';
import { recordFigures, since } from './support/figures';
import { bootApp, currentTest, faultName, recorderModule, RECORDER, resetLogger } from './support/harness';
import { sleep, trace, until } from './support/stream';
import { TcpProxy } from './support/tcp-proxy';
import { ThrowawayPostgres } from './support/throwaway-postgres';

const OUTBOX_WORKER = join(__dirname, 'support', 'outbox-worker.js');
/** Order numbers drawn; every tenth is rolled back, so about 10,000 orders commit. */
const ORDERS = 11_120;
const BROKER_AWAY_MS = 30_000;
const DATABASE_AWAY_MS = 20_000;
/** The scenario's own PostgreSQL (15e): clear of the shared one at 5432 and of the throwaway brokers' ports. */
const THROWAWAY_PG_PORT = Number(process.env.WARREN_FAULT_PG_PORT ?? Number(process.env.WARREN_FAULT_PORT ?? 5700) + 40);
/** How long the postmaster stays dead after its kill -9 while the writers keep trying (15e). */
const CRASHED_MS = 3_000;

/** One order-writing (and relaying) application process: test/faults/support/outbox-worker.js. */
class OutboxApp {
  private readonly child: ChildProcess;
  private output = '';
  readonly exited: Promise<void>;

  constructor(
    readonly label: string,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, [OUTBOX_WORKER], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (data: Buffer): void => {
      this.output += data.toString();
      capture(label, data.toString().trimEnd());
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => this.child.on('exit', () => resolve()));
  }

  async ready(): Promise<void> {
    if (!(await until(() => this.output.includes('ready') || this.child.exitCode !== null, 30_000)) || !this.output.includes('ready')) {
      throw new Error(`${this.label} did not start:\n${this.output.slice(-2000)}`);
    }
  }

  get text(): string {
    return this.output;
  }

  async kill9(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * The transactional outbox under faults: order-writing application processes killed with kill -9
 * between commit and publish, the broker away for 30 s while orders keep committing, two relays
 * on one table, the relay's database away, and PostgreSQL itself restarted (on a server of the
 * scenario's own). The total-queue checker takes "confirmed" from the database: the orders committed.
 */
describe('fault 15: transactional outbox (PostgreSQL)', () => {
  const exchange = faultName('outbox.x');
  let admin: BrokerAdmin;
  let db: Pool;
  let schema: { name: string; drop(): Promise<void> };
  const apps: OutboxApp[] = [];
  const nest: INestApplicationContext[] = [];
  /** 15e's own PostgreSQL, also stopped and removed here when the test timed out before its own cleanup. */
  let throwaway: ThrowawayPostgres | undefined;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange);
    await admin.raw((ch) => ch.assertExchange(exchange, 'direct', { durable: true }));
    db = pgPool({ max: 8 });
    schema = await testSchema(db, 'fault15');
  });

  afterAll(async () => {
    for (const app of apps) await app.kill9();
    for (const app of nest) await app.close().catch(() => undefined);
    await throwaway?.destroy();
    await schema?.drop();
    await db?.end();
    await admin.cleanup();
    await admin.close();
    resetLogger();
  });

  /** An orders table, a sequence and an outbox table of their own. */
  async function tables(name: string): Promise<{ orders: string; sequence: string; outbox: string }> {
    const t = { orders: `${schema.name}.${name}_orders`, sequence: `${schema.name}.${name}_seq`, outbox: `${schema.name}.${name}_outbox` };
    await db.query(`CREATE TABLE ${t.orders} (id text PRIMARY KEY, n bigint NOT NULL)`);
    await db.query(`CREATE SEQUENCE ${t.sequence}`);
    await applyOutboxMigration(db, { table: t.outbox });
    return t;
  }

  /** The consumer: a recording handler with dedup (memory store), on the default broker. */
  async function consumer(queue: string, checker: TotalQueueChecker, source: string): Promise<INestApplicationContext> {
    admin.track('queue', queue);
    const { app } = await bootApp(
      recorderModule(
        { uri: faultUrl(), connectionName: faultName(`${source}-consumer`) },
        { exchange, queue, checker, prefetch: 50, dedup: { store: new MemoryDedupStore(), lease: 10_000 } },
      ),
      source,
    );
    nest.push(app);
    return app;
  }

  async function count(sql: string): Promise<number> {
    return Number((await db.query(sql)).rows[0].n);
  }

  it('a: order-writing processes killed with kill -9 between commit and publish, ~10,000 orders: every committed order handled once, none rolled back', async () => {
    const started = Date.now();
    const t = await tables('kill');
    const queue = faultName('outbox.kill');
    const checker = new TotalQueueChecker();
    const consumerApp = await consumer(queue, checker, 'fault-15a');
    let instances = 0;
    const start = async (): Promise<OutboxApp> => {
      const app = new OutboxApp(`fault-15a-app-${++instances}`, {
        AMQP_URL: faultUrl(),
        PG_URL,
        TABLE: t.outbox,
        ORDERS: t.orders,
        SEQUENCE: t.sequence,
        TOTAL: String(ORDERS),
        WRITERS: '4',
        RELAY: '1',
        EXCHANGE: exchange,
        ROUTING_KEY: queue,
        APP_ID: faultName(`outbox-app-${instances}`),
      });
      apps.push(app);
      await app.ready();
      return app;
    };
    const committed = (): Promise<number> => count(`SELECT count(*) AS n FROM ${t.orders}`);
    const stopTrace = trace('fault-15a', () => ({ processed: checker.processedCount, instances }));
    // Two instances write and relay at once; one of them is killed three times in turn.
    const running = [await start(), await start()];
    const kills: string[] = [];
    for (const [victim, at] of [
      [0, 2_000],
      [1, 5_000],
      [0, 8_000],
    ] as const) {
      await until(async () => (await committed()) >= at, 90_000, 100);
      await running[victim].kill9();
      // Committed and not yet published: what a crash between commit and publish leaves.
      const waiting = await count(`SELECT count(*) AS n FROM ${t.outbox} WHERE status = 'pending'`);
      kills.push(`${waiting} waiting`);
      running[victim] = await start();
    }
    await until(() => running.every((app) => app.text.includes('writers done')), 180_000, 200);
    const done = await until(async () => (await count(`SELECT count(*) AS n FROM ${t.outbox} WHERE status <> 'sent'`)) === 0, 60_000, 200);
    const ids = (await db.query(`SELECT id FROM ${t.orders}`)).rows.map((row: { id: string }) => row.id);
    for (const id of ids) {
      checker.attempt(id);
      checker.confirmed(id);
    }
    await until(() => checker.processedCount >= ids.length, 60_000, 100);
    await sleep(500);
    stopTrace();
    const absorbed = consumerApp.get(AmqpConnection).getHandlerStats()[RECORDER]?.duplicates ?? 0;
    checker.addAbsorbed(absorbed);
    const figures = checker.report();
    const rolledBack = await count(`SELECT count(*) AS n FROM generate_series(1, ${ORDERS}) AS n WHERE n % 10 = 7`);
    const rowsLeft = await count(`SELECT count(*) AS n FROM ${t.outbox}`);

    recordFigures({
      id: '15a',
      scenario: 'outbox: app processes kill -9 between commit and publish',
      test: currentTest(),
      figures,
      durationMs: since(started),
      notes:
        `${ids.length} orders committed, ${rolledBack} rolled back (none handled); 2 instances writing and relaying, 3 kill -9 (${kills.join(', ')} at the kill); ` +
        `${absorbed} re-sends absorbed by dedup; ${rowsLeft} outbox rows kept (sent, retention)`,
    });

    expect(done).toBe(true);
    expect(figures.lost).toBe(0);
    expect(figures.lostIds).toEqual([]);
    expect(figures.unexpected).toBe(0);
    expect(figures.unexpectedIds).toEqual([]);
    expect(figures.duplicateSideEffects).toBe(0);
    expect(ids.length).toBeGreaterThanOrEqual(9_900);
  });

  it('b: the broker away for 30 s while orders keep committing: the backlog waits, shows, and drains; 0 lost', async () => {
    const started = Date.now();
    const t = await tables('away');
    const queue = faultName('outbox.away');
    const checker = new TotalQueueChecker();
    await consumer(queue, checker, 'fault-15b');
    const proxy = await TcpProxy.create({ host: DEFAULT_HOST, port: DEFAULT_PORT });
    await proxy.setMode('forward');
    const relayApp = await bootApp(
      { imports: [RabbitMQModule.forRoot({ uri: faultUrl(proxy.port), connectionName: faultName('outbox-relay'), connectionInitOptions: { wait: true } })] },
      'fault-15b-relay',
    );
    nest.push(relayApp.app);
    const relayPool = pgPool({ max: 4 });
    const relay = new OutboxRelay(relayPool, relayApp.amqp, { table: t.outbox, pollInterval: 200, backlogInterval: 250 });
    relay.start();
    const outbox = new Outbox({ table: t.outbox });
    let writing = true;
    let written = 0;
    let peak = { pending: 0, ageMs: 0 };
    const sample = setInterval(() => {
      const b = relay.lastBacklogRead;
      if (b && b.pending > peak.pending) peak = { pending: b.pending, ageMs: b.oldestPendingAgeMs };
    }, 100);
    const writer = (async () => {
      while (writing) {
        const client = await db.connect();
        try {
          await client.query('BEGIN');
          const n = Number((await client.query(`SELECT nextval('${t.sequence}') AS n`)).rows[0].n);
          const id = `order-${n}`;
          await client.query(`INSERT INTO ${t.orders} (id, n) VALUES ($1, $2)`, [id, n]);
          await outbox.publish(client, exchange, queue, { id }, { messageId: `order.created:${id}`, aggregateKey: id });
          await client.query('COMMIT');
          written++;
        } finally {
          client.release();
        }
        await sleep(5);
      }
    })();
    await until(() => checker.processedCount >= 200, 30_000);
    await proxy.setMode('refuse');
    const awayAt = Date.now();
    await sleep(BROKER_AWAY_MS);
    const processedWhileAway = checker.processedCount;
    await proxy.setMode('forward');
    const backAt = Date.now();
    await until(async () => (await count(`SELECT count(*) AS n FROM ${t.outbox} WHERE status = 'pending'`)) === 0 && relayApp.amqp.isConnected, 60_000, 100);
    const drainMs = Date.now() - backAt;
    writing = false;
    await writer;
    const drained = await until(async () => (await count(`SELECT count(*) AS n FROM ${t.outbox} WHERE status = 'pending'`)) === 0, 60_000, 100);
    clearInterval(sample);
    await relay.stop();
    await relayPool.end();
    await proxy.close();
    const ids = (await db.query(`SELECT id FROM ${t.orders}`)).rows.map((row: { id: string }) => row.id);
    for (const id of ids) {
      checker.attempt(id);
      checker.confirmed(id);
    }
    await until(() => checker.processedCount >= ids.length, 60_000, 100);
    const figures = checker.report();

    recordFigures({
      id: '15b',
      scenario: 'outbox: broker away 30 s while orders commit',
      test: currentTest(),
      figures: { ...figures, recoveryMs: drainMs },
      durationMs: since(started),
      notes:
        `${written} orders committed, ${ids.length - processedWhileAway} of them during or after the ${((backAt - awayAt) / 1000).toFixed(0)} s outage; ` +
        `backlog peak ${peak.pending} rows, oldest ${(peak.ageMs / 1000).toFixed(1)} s; drained ${drainMs} ms after the broker came back`,
    });

    expect(drained).toBe(true);
    expect(figures.lost).toBe(0);
    expect(figures.unexpected).toBe(0);
    expect(peak.pending).toBeGreaterThan(100);
    expect(peak.ageMs).toBeGreaterThan(BROKER_AWAY_MS / 2);
  });

  it('d: the database away for 20 s under the relay while orders keep committing: it backs off, resumes, 0 lost', async () => {
    const started = Date.now();
    const t = await tables('db');
    const queue = faultName('outbox.db');
    const checker = new TotalQueueChecker();
    const consumerApp = await consumer(queue, checker, 'fault-15d');
    const proxy = await TcpProxy.create(pgEndpoint());
    await proxy.setMode('forward');
    // The relay reaches PostgreSQL through the proxy; the writers do not (the outage is the relay's).
    const relayPool = pgPool({ port: proxy.port, max: 4 });
    const relay = new OutboxRelay(relayPool, consumerApp.get(AmqpConnection), { table: t.outbox, pollInterval: 200, outageBackoff: { min: 100, max: 2000 } });
    relay.start();
    const outbox = new Outbox({ table: t.outbox });
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        const client = await db.connect();
        try {
          await client.query('BEGIN');
          const n = Number((await client.query(`SELECT nextval('${t.sequence}') AS n`)).rows[0].n);
          await client.query(`INSERT INTO ${t.orders} (id, n) VALUES ($1, $2)`, [`order-${n}`, n]);
          await outbox.publish(client, exchange, queue, { id: `order-${n}` }, { messageId: `order.created:order-${n}`, aggregateKey: `order-${n}` });
          await client.query('COMMIT');
          written++;
        } finally {
          client.release();
        }
        await sleep(5);
      }
    })();
    await until(() => checker.processedCount >= 200, 30_000);
    await proxy.setMode('refuse');
    const downAt = Date.now();
    const sawOutage = await until(() => relay.isDatabaseDown, 10_000);
    await sleep(DATABASE_AWAY_MS - (Date.now() - downAt));
    const processedWhileDown = checker.processedCount;
    await proxy.setMode('forward');
    const backAt = Date.now();
    const resumed = await until(() => !relay.isDatabaseDown, 30_000, 50);
    const resumeMs = Date.now() - backAt;
    writing = false;
    await writer;
    const drained = await until(async () => (await count(`SELECT count(*) AS n FROM ${t.outbox} WHERE status = 'pending'`)) === 0, 60_000, 100);
    await relay.stop();
    await relayPool.end();
    await proxy.close();
    const ids = (await db.query(`SELECT id FROM ${t.orders}`)).rows.map((row: { id: string }) => row.id);
    for (const id of ids) {
      checker.attempt(id);
      checker.confirmed(id);
    }
    await until(() => checker.processedCount >= ids.length, 60_000, 100);
    const absorbed = consumerApp.get(AmqpConnection).getHandlerStats()[RECORDER]?.duplicates ?? 0;
    checker.addAbsorbed(absorbed);
    const figures = checker.report();

    recordFigures({
      id: '15d',
      scenario: 'outbox: database away 20 s under the relay',
      test: currentTest(),
      figures: { ...figures, recoveryMs: resumeMs },
      durationMs: since(started),
      notes:
        `${written} orders committed, ${ids.length - processedWhileDown} of them relayed after the ${((backAt - downAt) / 1000).toFixed(0)} s outage; ` +
        `relay resumed ${resumeMs} ms after the database came back; ${absorbed} re-sends absorbed by dedup`,
    });

    expect(sawOutage).toBe(true);
    expect(resumed).toBe(true);
    expect(drained).toBe(true);
    expect(figures.lost).toBe(0);
    expect(figures.unexpected).toBe(0);
    expect(figures.duplicateSideEffects).toBe(0);
  });

  it('c: two relay processes on one table with 10,000 rows: 0 rows published by both', async () => {
    const started = Date.now();
    const t = await tables('pair');
    const queue = faultName('outbox.pair');
    admin.track('queue', queue);
    await admin.raw(async (ch) => {
      await ch.assertQueue(queue, { durable: true });
      await ch.bindQueue(queue, exchange, queue);
    });
    const outbox = new Outbox({ table: t.outbox });
    for (let batch = 0; batch < 20; batch++) {
      const client = await db.connect();
      try {
        await client.query('BEGIN');
        for (let i = 0; i < 500; i++) {
          const id = `row-${batch * 500 + i}`;
          // A fifth of the rows share ten aggregate keys: those go one relay at a time, in order.
          await outbox.publish(
            client,
            exchange,
            queue,
            { id, seq: batch * 500 + i },
            { messageId: id, aggregateKey: i % 5 === 0 ? `key-${i % 10}` : undefined },
          );
        }
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    }
    const byRelay = new Map<string, number>();
    const seen = new Map<string, number>();
    const lastSeq = new Map<string, number>();
    let outOfOrder = 0;
    const connection = await amqplib.connect(faultUrl());
    const channel = await connection.createChannel();
    await channel.consume(
      queue,
      (message) => {
        if (!message) return;
        const id = String(message.properties.messageId);
        seen.set(id, (seen.get(id) ?? 0) + 1);
        byRelay.set(String(message.properties.appId), (byRelay.get(String(message.properties.appId)) ?? 0) + 1);
        const body = JSON.parse(message.content.toString()) as { seq: number };
        const i = body.seq % 500;
        if (i % 5 === 0) {
          const key = `key-${i % 10}`;
          if ((lastSeq.get(key) ?? -1) > body.seq) outOfOrder++;
          lastSeq.set(key, body.seq);
        }
      },
      { noAck: true },
    );
    const env = {
      AMQP_URL: faultUrl(),
      PG_URL,
      TABLE: t.outbox,
      ORDERS: t.orders,
      SEQUENCE: t.sequence,
      TOTAL: '0',
      WRITERS: '0',
      RELAY: '1',
      EXCHANGE: exchange,
      ROUTING_KEY: queue,
    };
    const relays = [new OutboxApp('fault-15c-relay-1', { ...env, APP_ID: 'relay-1' }), new OutboxApp('fault-15c-relay-2', { ...env, APP_ID: 'relay-2' })];
    apps.push(...relays);
    await Promise.all(relays.map((relay) => relay.ready()));
    const drained = await until(() => seen.size >= 10_000, 120_000, 100);
    await until(async () => (await count(`SELECT count(*) AS n FROM ${t.outbox} WHERE status <> 'sent'`)) === 0, 30_000, 100);
    await sleep(1000);
    await connection.close();
    for (const relay of relays) await relay.kill9();
    const twice = [...seen.values()].filter((n) => n > 1).length;

    recordFigures({
      id: '15c',
      scenario: 'outbox: two relays on one table',
      test: currentTest(),
      figures: { published: 10_000, processed: seen.size, lost: 10_000 - seen.size, duplicatedDeliveries: twice },
      durationMs: since(started),
      notes: `published by relay-1 ${byRelay.get('relay-1') ?? 0}, relay-2 ${byRelay.get('relay-2') ?? 0}; rows published by both: ${twice}; keyed rows out of order: ${outOfOrder}`,
    });

    expect(drained).toBe(true);
    expect(seen.size).toBe(10_000);
    expect(twice).toBe(0);
    expect(outOfOrder).toBe(0);
  });

  it('e: PostgreSQL restarted (pg_ctl restart -m fast, then kill -9 of the postmaster) while orders commit: typed errors, the relay resumes, every committed order handled once', async () => {
    const started = Date.now();
    const server = await ThrowawayPostgres.start(THROWAWAY_PG_PORT);
    throwaway = server;
    const pools: Pool[] = [];
    let relay: OutboxRelay | undefined;
    let writing = true;
    let writers: Promise<void> | undefined;
    let watch: NodeJS.Timeout | undefined;
    try {
      const url = new URL(server.url);
      const pool = (max: number): Pool => {
        const p = new Pool({ connectionString: url.toString(), max, connectionTimeoutMillis: 2000 });
        p.on('error', () => undefined);
        pools.push(p);
        return p;
      };
      const own = pool(2);
      await own.query('CREATE TABLE orders (id text PRIMARY KEY, n bigint NOT NULL)');
      await own.query('CREATE SEQUENCE orders_seq');
      await applyOutboxMigration(own, { table: 'warren_outbox' });
      const queue = faultName('outbox.restart');
      const checker = new TotalQueueChecker();
      const consumerApp = await consumer(queue, checker, 'fault-15e');
      relay = new OutboxRelay(pool(4), consumerApp.get(AmqpConnection), {
        table: 'warren_outbox',
        pollInterval: 200,
        backlogInterval: 500,
        outageBackoff: { min: 100, max: 2000 },
      });
      relay.start();
      // The relay's outages as it saw them: when it went down and when it resumed.
      const outages: Array<{ down: number; up?: number }> = [];
      watch = setInterval(() => {
        const last = outages.at(-1);
        if (relay?.isDatabaseDown && (!last || last.up !== undefined)) outages.push({ down: Date.now() });
        else if (!relay?.isDatabaseDown && last && last.up === undefined) last.up = Date.now();
      }, 10);

      const outbox = new Outbox({ table: 'warren_outbox' });
      const writerPool = pool(6);
      let committed = 0;
      let rolledBack = 0;
      /** Errors the writers saw, by the step that failed and the error's class (and code, when typed). */
      const errors = new Map<string, number>();
      let untypedOutboxErrors = 0;
      let typedOutboxErrors = 0;
      // Holds writers inside their open transaction while the restart is sent, so that it surely
      // meets one there (where the four writers are at that moment would otherwise decide it).
      let hold: Promise<void> | undefined;
      let held = 0;
      const writer = async (): Promise<void> => {
        while (writing) {
          let step = 'connect';
          let client: PoolClient | undefined;
          let broken: Error | undefined;
          try {
            client = await writerPool.connect();
            // A session ended by the server is also emitted on the checked-out client; the next query fails with it anyway.
            client.on('error', ignoreError);
            step = 'begin';
            await client.query('BEGIN');
            step = 'order';
            const n = Number((await client.query(`SELECT nextval('orders_seq') AS n`)).rows[0].n);
            const id = `order-${n}`;
            await client.query('INSERT INTO orders (id, n) VALUES ($1, $2)', [id, n]);
            // The application's own work between its write and the event: the transaction is open across an outage.
            await sleep(20);
            if (hold) {
              held++;
              await hold;
            }
            step = 'outbox.publish';
            await outbox.publish(client, exchange, queue, { id }, { messageId: `order.created:${id}`, aggregateKey: id });
            step = n % 10 === 7 ? 'rollback' : 'commit';
            await client.query(n % 10 === 7 ? 'ROLLBACK' : 'COMMIT');
            if (n % 10 === 7) rolledBack++;
            else committed++;
          } catch (error) {
            broken = error instanceof Error ? error : new Error(String(error));
            const name = error instanceof OutboxWriteError ? `OutboxWriteError ${error.code}` : (broken.constructor?.name ?? 'Error');
            if (step === 'outbox.publish') {
              if (error instanceof OutboxWriteError) typedOutboxErrors++;
              else untypedOutboxErrors++;
            }
            const key = `${step}: ${name}`;
            errors.set(key, (errors.get(key) ?? 0) + 1);
            await sleep(50);
          } finally {
            client?.off('error', ignoreError);
            client?.release(broken);
          }
          await sleep(5);
        }
      };
      writers = Promise.all(Array.from({ length: 4 }, writer)).then(() => undefined);
      const stopTrace = trace('fault-15e', () => ({ committed, processed: checker.processedCount, down: relay?.isDatabaseDown ?? false }));

      // 1. A clean fast restart: every session ended, the server back within a second or two.
      expect(await until(() => checker.processedCount >= 1_000, 90_000)).toBe(true);
      let release: () => void = () => undefined;
      hold = new Promise<void>((resolve) => (release = resolve));
      expect(await until(() => held > 0, 10_000, 5)).toBe(true);
      const restartAt = Date.now();
      await server.restartFast();
      const restartMs = Date.now() - restartAt;
      hold = undefined;
      release();
      const afterRestart = committed;
      expect(await until(() => committed >= afterRestart + 1_000 && checker.processedCount >= afterRestart + 800, 90_000, 100)).toBe(true);
      const errorsAfterRestart = [...errors.values()].reduce((a, b) => a + b, 0);

      // 2. kill -9 of the postmaster: no shutdown, crash recovery from the WAL at the next start.
      const crashAt = Date.now();
      await server.kill9();
      await sleep(CRASHED_MS);
      await server.startAfterCrash();
      const crashedMs = Date.now() - crashAt;
      const upAt = Date.now();
      const afterCrash = committed;
      expect(await until(() => committed >= afterCrash + 1_000, 90_000, 100)).toBe(true);
      const firstHandledAfterCrash = await until(() => checker.processedCount >= afterCrash + 100, 60_000, 20);
      const recoveryMs = Date.now() - upAt;

      writing = false;
      await writers;
      const drained = await until(
        async () => Number((await own.query(`SELECT count(*) AS n FROM warren_outbox WHERE status <> 'sent'`)).rows[0].n) === 0,
        60_000,
        100,
      );
      stopTrace();
      clearInterval(watch);
      await relay.stop();
      const ids = (await own.query('SELECT id FROM orders')).rows.map((row: { id: string }) => row.id);
      for (const id of ids) {
        checker.attempt(id);
        checker.confirmed(id);
      }
      await until(() => checker.processedCount >= ids.length, 60_000, 100);
      await sleep(500);
      const absorbed = consumerApp.get(AmqpConnection).getHandlerStats()[RECORDER]?.duplicates ?? 0;
      checker.addAbsorbed(absorbed);
      const figures = checker.report();
      const ambiguous = ids.length - committed;
      const totalErrors = [...errors.values()].reduce((a, b) => a + b, 0);
      const resumed = outages.filter((o) => o.up !== undefined);

      recordFigures({
        id: '15e',
        scenario: 'outbox: PostgreSQL restarted (fast restart, kill -9 of the postmaster)',
        test: currentTest(),
        figures: { ...figures, recoveryMs },
        durationMs: since(started),
        notes:
          `own PostgreSQL ${server.port}; ${ids.length} orders committed (${ambiguous} whose COMMIT answer was lost but which the database kept), ${rolledBack} rolled back (none handled); ` +
          `restart -m fast took ${restartMs} ms, postmaster dead ${crashedMs} ms; writers saw ${totalErrors} errors (${errorsAfterRestart} at the restart): ` +
          `${[...errors].map(([k, v]) => `${k} ×${v}`).join(', ')}; relay outages ${outages.length}, resumed ${resumed.length} ` +
          `(${resumed.map((o) => `${(o.up as number) - o.down} ms`).join(', ')}); ${absorbed} re-sends absorbed by dedup`,
      });

      expect(firstHandledAfterCrash).toBe(true);
      expect(drained).toBe(true);
      expect(figures.lost).toBe(0);
      expect(figures.lostIds).toEqual([]);
      expect(figures.unexpected).toBe(0);
      expect(figures.unexpectedIds).toEqual([]);
      expect(figures.duplicateSideEffects).toBe(0);
      // The writers failed during both outages, and where the outbox failed it said so with its typed error.
      expect(totalErrors).toBeGreaterThan(0);
      expect(errorsAfterRestart).toBeGreaterThan(0);
      expect(typedOutboxErrors).toBeGreaterThan(0);
      expect(untypedOutboxErrors).toBe(0);
      // The relay noticed the crash, backed off and resumed (every outage it saw ended).
      expect(outages.length).toBeGreaterThanOrEqual(1);
      expect(resumed.length).toBe(outages.length);
    } finally {
      writing = false;
      await writers?.catch(() => undefined);
      if (watch) clearInterval(watch);
      await relay?.stop().catch(() => undefined);
      for (const p of pools) await p.end().catch(() => undefined);
      await server.destroy();
      throwaway = undefined;
    }
  }, 400_000);
});

function ignoreError(): void {}
