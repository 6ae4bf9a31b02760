import { Injectable, type CanActivate, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { RabbitMQModule } from '@warren/rabbitmq';
import { WarrenDashboardModule } from '@warren/rabbitmq/dashboard';
import { Outbox, OutboxRelay, WarrenOutboxModule, applyOutboxMigration, type OutboxEntry } from '@warren/rabbitmq/outbox';
import * as amqplib from 'amqplib';
import type { Pool } from 'pg';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './support/browser';
import { AMQP_URL, BrokerAdmin, uniqueName, waitFor } from './support/broker';
import { pgPool, testSchema } from './support/postgres';

const exchange = uniqueName('dash-outbox.x');
const queue = uniqueName('dash-outbox.orders');

@Injectable()
class RefusingGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

/** What the tests read of the page's globals (the project's types have no DOM). */
interface BrowserGlobals {
  __pwned?: number;
}

/**
 * Parked and failed outbox rows on the dashboard, next to the dead letters: the Outbox page of a
 * dashboard given `outbox: OutboxRelay`, its replay behind the guard, CSRF and read-only, in Chromium.
 */
describe('dashboard: the outbox page (held outbox rows, replay) in a real browser', () => {
  let db: Pool;
  let schema: { name: string; drop(): Promise<void> };
  let table: string;
  let admin: BrokerAdmin;
  let app: INestApplication;
  let url: string;
  let writer: Outbox;
  let relay: OutboxRelay;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let browser: BrowserContext;
  let consumer: amqplib.ChannelModel;
  let channel: amqplib.Channel;
  const received: Array<{ routingKey: string; messageId: string }> = [];

  async function write(routingKey: string, message: unknown): Promise<OutboxEntry> {
    const client = await db.connect();
    try {
      await client.query('BEGIN');
      const entry = await writer.publish(client, exchange, routingKey, message);
      await client.query('COMMIT');
      return entry;
    } finally {
      client.release();
    }
  }

  /** A POST with the page's CSRF cookie and header, as the page script sends it (or with `headers` overriding them). */
  async function act(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    const page = await fetch(`${url}/warren/handlers`);
    const cookie = page.headers.get('set-cookie')!.split(';')[0];
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, 'x-warren-csrf': cookie.split('=')[1], ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function open(path: string): Promise<Page> {
    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(`${url}${path}`);
    return page;
  }

  beforeAll(async () => {
    db = pgPool();
    schema = await testSchema(db, 'dash');
    table = `${schema.name}.warren_outbox`;
    await applyOutboxMigration(db, { table });
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange);
    admin.track('queue', queue);
    const moduleRef = await Test.createTestingModule({
      imports: [
        RabbitMQModule.forRoot({
          uri: AMQP_URL,
          exchanges: [{ name: exchange, type: 'topic' }],
          queues: [{ name: queue, bindings: [{ exchange, routingKey: 'order.*' }] }],
        }),
        WarrenOutboxModule.forRoot({ pool: db, table, pollInterval: 200, backlogInterval: 200 }),
        WarrenDashboardModule.forRoot({ path: '/warren', outbox: OutboxRelay, maskPaths: ['card.number'], refreshMs: 0 }),
        WarrenDashboardModule.forRoot({ path: '/readonly', outbox: OutboxRelay, readOnly: true }),
        WarrenDashboardModule.forRoot({ path: '/locked', outbox: OutboxRelay, authGuard: RefusingGuard }),
        WarrenDashboardModule.forRoot({ path: '/plain' }),
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: process.env.TEST_LOGS ? undefined : ['error'] });
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    writer = app.get(Outbox);
    relay = app.get(OutboxRelay);
    consumer = await amqplib.connect(AMQP_URL);
    channel = await consumer.createChannel();
    chromium = await launchChromium();
    browser = chromium.context;
  }, 60_000);

  afterAll(async () => {
    await chromium?.close();
    await consumer?.close().catch(() => undefined);
    await app?.close();
    await admin?.cleanup();
    await admin?.close();
    await schema?.drop();
    await db?.end();
  });

  afterEach(async () => {
    for (const page of browser.pages()) await page.close();
  });

  it('shows a parked row with its reason and a masked, inert payload, and replays it from the page once a queue is bound', async () => {
    const lostKey = `lost.${Date.now()}`;
    const good = await write('order.created', { n: 1 });
    const lost = await write(lostKey, { card: { number: '4111111111111111' }, note: '<img src=x onerror="window.__pwned=1">' });
    const after = await write('order.created', { n: 3 });
    const parked = await waitFor(async () => (await relay.held()).find((row) => row.messageId === lost.messageId), 'the parked row', 15_000);
    // The rows around it were published.
    await waitFor(
      async () => (await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE id = ANY($1) AND status = 'sent'`, [[good.id, after.id]])).rows[0].n === 2,
      'the good rows sent',
    );

    const page = await open('/warren/outbox');
    await page.waitForSelector(`tr[data-row="${parked.id}"]`);
    expect(await page.getAttribute('nav a[aria-current="page"]', 'href')).toBe('/warren/outbox');
    const row = page.locator(`tr[data-row="${parked.id}"]`);
    expect(await row.innerText()).toContain('UNROUTABLE');
    expect(await row.innerText()).toContain(lostKey);
    expect(await row.innerText()).toContain(lost.messageId);
    const content = await page.content();
    expect(content).not.toContain('4111111111111111');
    expect(content).toContain('&lt;img');
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).__pwned)).toBeUndefined();

    // Fix the cause: a queue for the routing key. Then replay the row from the page.
    const fixed = uniqueName('dash-outbox.fixed');
    admin.track('queue', fixed);
    await channel.assertQueue(fixed);
    await channel.bindQueue(fixed, exchange, lostKey);
    await channel.consume(
      fixed,
      (message) => message && received.push({ routingKey: message.fields.routingKey, messageId: String(message.properties.messageId) }),
      {
        noAck: true,
      },
    );
    await page.click(`button[data-action="replay-one"][data-id="${parked.id}"]`);
    await page.locator('#notice', { hasText: /Replayed 1 message\./ }).waitFor();
    await waitFor(() => received.find((m) => m.messageId === lost.messageId), 'the replayed message, with its message id', 15_000);
    expect(received.filter((m) => m.messageId === lost.messageId)).toHaveLength(1);
    // The list was reloaded: the row is gone from it, and from the relay's held rows.
    expect(await page.locator(`tr[data-row="${parked.id}"]`).count()).toBe(0);
    expect((await relay.held()).some((r) => r.id === parked.id)).toBe(false);

    // The same id again: no longer held.
    const again = await act('/warren/api/outbox/replay', { ids: [parked.id] });
    expect(again.status).toBe(404);
    expect(String(again.body.message)).toContain('no longer held');
  });

  it('replays every held row at once, and lists them in the JSON API', async () => {
    const keys = [`gone.a.${Date.now()}`, `gone.b.${Date.now()}`];
    const entries = await Promise.all(keys.map((key) => write(key, { key })));
    await waitFor(async () => (await relay.held()).filter((row) => entries.some((e) => e.id === row.id)).length === 2, 'two parked rows', 15_000);
    const api = (await (await fetch(`${url}/warren/api/outbox`)).json()) as { table: string; rows: Array<{ id: string; errorCode: string }> };
    expect(api.table).toBe(table);
    expect(api.rows.filter((row) => entries.some((e) => e.id === row.id)).map((row) => row.errorCode)).toEqual(['UNROUTABLE', 'UNROUTABLE']);

    const page = await open('/warren/outbox');
    await page.waitForSelector(`tr[data-row="${entries[1].id}"]`);
    await page.click('button[data-action="replay-matching"]');
    await page.locator('#notice', { hasText: /Replayed \d+ messages?\./ }).waitFor();
    // Still unroutable: the relay parks them again, one more attempt each, and they come back to the list.
    await waitFor(
      async () => (await relay.held()).filter((row) => entries.some((e) => e.id === row.id) && row.attempts === 2).length === 2,
      'the rows parked again after the replay',
      15_000,
    );
  });

  it('keeps the outbox behind the guard, CSRF and read-only; a dashboard without an outbox has no Outbox page', async () => {
    const entry = await write(`gone.c.${Date.now()}`, { n: 1 });
    await waitFor(async () => (await relay.held()).some((row) => row.id === entry.id), 'a parked row', 15_000);

    // No CSRF token, a foreign one: refused, nothing replayed.
    expect((await act('/warren/api/outbox/replay', { ids: [entry.id] }, { 'x-warren-csrf': '' })).status).toBe(403);
    expect((await act('/warren/api/outbox/replay', { ids: [entry.id] }, { 'x-warren-csrf': 'A'.repeat(43) })).status).toBe(403);
    // Read-only shows the row and offers no action; its API refuses.
    const readOnly = await open('/readonly/outbox');
    await readOnly.waitForSelector(`tr[data-row="${entry.id}"]`);
    expect(await readOnly.locator('button[data-action]').count()).toBe(0);
    expect((await act('/readonly/api/outbox/replay', { ids: [entry.id] })).status).toBe(403);
    // The refusing guard: no page, no API.
    expect((await fetch(`${url}/locked/outbox`)).status).toBe(403);
    expect((await fetch(`${url}/locked/api/outbox`)).status).toBe(403);
    expect((await (await fetch(`${url}/locked/api/outbox`)).text()).includes(entry.messageId)).toBe(false);
    // Bad input: named, refused.
    expect((await act('/warren/api/outbox/replay', { ids: ['1; DROP TABLE x'] })).status).toBe(400);
    expect((await act('/warren/api/outbox/replay', { ids: [] })).status).toBe(400);
    expect((await act('/warren/api/outbox/replay', { ids: [entry.id], all: true })).status).toBe(400);
    expect((await relay.held()).some((row) => row.id === entry.id && row.attempts === 1)).toBe(true);
    // Without an outbox: no navigation entry, and the routes say why.
    const plain = await open('/plain/handlers');
    expect(await plain.locator('nav a', { hasText: 'Outbox' }).count()).toBe(0);
    const missing = await fetch(`${url}/plain/api/outbox`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { message: string }).message).toContain('outbox: OutboxRelay');
    // With one: the navigation links to it.
    const withOutbox = await open('/warren/handlers');
    expect(await withOutbox.getAttribute('nav a:has-text("Outbox")', 'href')).toBe('/warren/outbox');
  });
});
