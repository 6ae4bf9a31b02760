import { Injectable, UnauthorizedException, type CanActivate, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AmqpConnection, DEAD_LETTER_HEADERS, RabbitMQModule, RabbitSubscribe, WARREN_HEADERS } from '@warren/rabbitmq';
import { DashboardTelemetry, WarrenDashboardModule, type DeadLetterPage } from '@warren/rabbitmq/dashboard';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './support/browser';
import { AMQP_URL, BrokerAdmin, closeConnectionsNamed, uniqueName, waitFor } from './support/broker';

const exchange = uniqueName('dash.x');
const queue = uniqueName('dash.payments');
const dlq = `${queue}.dlq`;
const bulkDlq = uniqueName('dash.bulk.dlq');
/** Configured but never declared. */
const missingDlq = uniqueName('dash.missing.dlq');
const HANDLER = 'Payments.charge';
const PAGE_SIZE = 25;
const connectionName = uniqueName('dash.conn');
const retryQueue = uniqueName('dash.retrying');
// A delay no other suite uses, so the wait queue is this suite's own and is deleted afterwards.
const RETRY_DELAY = 58_321;
const waitQueue = `warren.retry.wait.classic.${RETRY_DELAY}`;

@Injectable()
class Payments {
  /** Orders whose charge fails: the dead letters of the tests. */
  readonly failing = new Set<string>();
  readonly charged: string[] = [];

  @RabbitSubscribe({ exchange, routingKey: 'order.created', queue, deadLetter: true })
  charge(payload: { orderId: string; reason?: string }): void {
    if (this.failing.has(payload.orderId)) throw new Error(payload.reason ?? `card declined for order ${payload.orderId}`);
    this.charged.push(payload.orderId);
  }
}

@Injectable()
class Reconciler {
  @RabbitSubscribe({ exchange, routingKey: 'ledger.reconcile', queue: retryQueue, retry: { maxAttempts: 2, backoff: { type: 'fixed', delay: RETRY_DELAY } } })
  reconcile(payload: { batch: string }): void {
    throw new Error(`ledger locked while reconciling ${payload.batch}`);
  }
}

/** Throws, as a guard does when nobody is signed in. */
class SignInGuard implements CanActivate {
  canActivate(): boolean {
    throw new UnauthorizedException('Sign in to see the dashboard');
  }
}

/** What the tests read of the page's globals (the project's types have no DOM). */
interface BrowserGlobals {
  document: { activeElement: { matches(selector: string): boolean } | null };
  __pwned?: number;
}

/** Lets everything through and records what it was asked about: proves the guard runs on every route. */
class RecordingGuard implements CanActivate {
  readonly urls: string[] = [];
  canActivate(context: ExecutionContext): boolean {
    this.urls.push(context.switchToHttp().getRequest<{ url: string }>().url);
    return true;
  }
}

@Injectable()
class RefusingGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

describe('dashboard (@warren/rabbitmq/dashboard) in a real browser', () => {
  let admin: BrokerAdmin;
  let app: INestApplication;
  let url: string;
  let payments: Payments;
  let amqp: AmqpConnection;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let browser: BrowserContext;
  const guard = new RecordingGuard();

  const publish = (orderId: string, extra: Record<string, unknown> = {}): Promise<void> =>
    amqp.publish(exchange, 'order.created', { orderId, ...extra }, { messageId: orderId });
  const stats = () => amqp.getHandlerStats()[HANDLER];
  const dlqCount = async (): Promise<number> => (await admin.messageCount(dlq)) ?? -1;

  /** Fails `orderId` until it is dead-lettered; resolves once it is in the DLQ. */
  async function deadLetter(orderId: string, extra: Record<string, unknown> = {}): Promise<void> {
    payments.failing.add(orderId);
    const before = stats().deadLettered;
    await publish(orderId, extra);
    await waitFor(() => stats().deadLettered > before, `${orderId} dead-lettered`, 15_000);
  }

  /** A fetch to the dashboard with the page's CSRF cookie and header, as the page script sends it. */
  async function act(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    const page = await fetch(`${url}/warren/handlers`);
    const cookie = page.headers.get('set-cookie')!.split(';')[0];
    const token = cookie.split('=')[1];
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, 'x-warren-csrf': token, ...headers },
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
    admin = await BrokerAdmin.connect();
    admin.track('queue', queue, dlq, bulkDlq, retryQueue, `${retryQueue}.dlq`, waitQueue);
    admin.track('exchange', exchange);
    await admin.raw((channel) => channel.assertQueue(bulkDlq, { durable: false }));
    const telemetry = new DashboardTelemetry();
    const moduleRef = await Test.createTestingModule({
      imports: [
        RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName, exchanges: [{ name: exchange, type: 'topic' }], telemetry: [telemetry] }),
        WarrenDashboardModule.forRoot({
          path: '/warren',
          authGuard: guard,
          maskPaths: ['card.number'],
          previewBytes: 1024,
          pageSize: PAGE_SIZE,
          refreshMs: 500,
          deadLetterQueues: [bulkDlq, missingDlq],
          telemetry,
        }),
        WarrenDashboardModule.forRoot({ path: '/locked', authGuard: RefusingGuard }),
        WarrenDashboardModule.forRoot({ path: '/readonly', readOnly: true }),
        WarrenDashboardModule.forRoot({ path: '/sign-in', authGuard: new SignInGuard() }),
      ],
      providers: [Payments, Reconciler],
    }).compile();
    app = moduleRef.createNestApplication({ logger: process.env.TEST_LOGS ? undefined : ['error'] });
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    payments = app.get(Payments);
    amqp = app.get(AmqpConnection);
    chromium = await launchChromium();
    browser = chromium.context;
  }, 60_000);

  afterAll(async () => {
    await chromium?.close();
    await app?.close();
    await admin?.close();
  });

  afterEach(async () => {
    for (const page of browser.pages()) await page.close();
  });

  it('shows every page with real traffic; a dead letter is found by its reason, replayed from the page, and the counts move live', async () => {
    for (let i = 0; i < 20; i++) await publish(`good-${i}`);
    await waitFor(() => stats().handled >= 20, 'the good traffic handled');
    const orderId = uniqueName('order');
    const reason = `card declined by the issuer (${orderId})`;
    await deadLetter(orderId, { reason });
    // Noise: another dead letter with another reason, which the filter must leave out.
    await deadLetter(uniqueName('other'), { reason: 'inventory service timed out' });
    expect(await dlqCount()).toBe(2);

    const handlers = await open('/warren/handlers');
    const row = handlers.locator(`tr[data-handler="${HANDLER}"]`);
    await expect(row.locator('[data-stat="deadLettered"]').textContent()).resolves.toBe('2');
    const handledBefore = Number(await row.locator('[data-stat="handled"]').textContent());
    expect(handledBefore).toBe(stats().handled);
    expect(await row.textContent()).toContain(queue);
    const described = (await (await fetch(`${url}/warren/api/handlers`)).json()) as Array<Record<string, unknown>>;
    expect(described.find((handler) => handler.name === HANDLER)).toEqual(
      expect.objectContaining({
        name: HANDLER,
        connection: 'default',
        queue,
        bindings: [{ exchange, routingKey: 'order.created' }],
        state: 'consuming',
        prefetch: 10,
        deadLetterQueue: dlq,
        retryWaitQueues: [],
        stats: stats(),
        timings: expect.objectContaining({ p50Ms: expect.any(Number), p99Ms: expect.any(Number) }),
      }),
    );
    expect(described.find((handler) => handler.name === 'Reconciler.reconcile')).toMatchObject({
      deadLetterQueue: `${retryQueue}.dlq`,
      retryWaitQueues: [{ queue: waitQueue, delayMs: RETRY_DELAY }],
    });

    for (const [path, heading] of [
      ['/warren/queues', 'Queues'],
      ['/warren/connections', 'Connections'],
      ['/warren/dead-letters', 'Dead letters'],
    ]) {
      const page = await open(path);
      expect(await page.locator('h1').textContent()).toBe(heading);
      if (path.endsWith('queues')) expect(await page.locator(`tr[data-queue="${dlq}"] [data-stat="messages"]`).textContent()).toBe('2');
      if (path.endsWith('connections')) expect(await page.locator('tr[data-connection="default"] .state').textContent()).toBe('connected');
      await page.close();
    }

    const letters = await open('/warren/dead-letters');
    await letters.getByRole('link', { name: dlq }).click();
    await letters.getByLabel('Error contains').fill('declined by the issuer');
    await letters.getByRole('button', { name: 'Filter' }).click();
    await letters.waitForURL(/error=declined/);
    const rows = letters.locator('table.letters tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().locator('.reason').textContent()).toBe(reason);
    expect(await rows.first().textContent()).toContain(HANDLER);

    payments.failing.delete(orderId);
    await letters.getByRole('button', { name: `Replay ${orderId}` }).click();
    await letters.locator('#notice', { hasText: 'Replayed 1 message.' }).waitFor();
    expect(await letters.locator('.empty').textContent()).toBe('No dead letter matches the filter.');
    await waitFor(() => payments.charged.includes(orderId), 'the replayed order charged');

    // The handlers page, open since before the replay, refreshed itself: handled went up by one.
    await waitFor(
      async () => Number(await row.locator('[data-stat="handled"]').textContent()) === handledBefore + 1,
      'the handled count moving on the open page',
    );
    expect(await dlqCount()).toBe(1);

    // Replay the rest from the unfiltered list: the DLQ ends empty.
    await letters.getByRole('link', { name: 'Clear' }).click();
    payments.failing.clear();
    await letters.getByRole('button', { name: 'Replay all 1' }).click();
    await letters.locator('#notice', { hasText: 'Replayed 1 message.' }).waitFor();
    await letters.locator('.empty', { hasText: 'The dead-letter queue is empty.' }).waitFor();
    await letters.locator('#live-summary [data-stat="messages"]', { hasText: '0' }).waitFor();
    expect(await dlqCount()).toBe(0);
  });

  it('shows what waits in a retry wait queue: the queue it returns to, its attempt, last error and due time', async () => {
    const batch = uniqueName('batch');
    const sent = Date.now();
    await amqp.publish(exchange, 'ledger.reconcile', { batch }, { messageId: batch });
    await waitFor(() => amqp.getHandlerStats()['Reconciler.reconcile'].retried === 1, 'the failure sent to wait');
    const page = await open('/warren/queues');
    expect(await page.locator(`tr[data-queue="${waitQueue}"] [data-stat="messages"]`).textContent()).toBe('1');
    const waiting = page.locator('tr', { has: page.locator(`code:text-is("${batch}")`) });
    const cells = await waiting.locator('td').allTextContents();
    expect(cells[2]).toBe(retryQueue);
    expect(cells[4]).toBe('2');
    expect(cells[5]).toContain(`ledger locked while reconciling ${batch}`);
    const due = Date.parse((await waiting.locator('[data-due]').getAttribute('data-due'))!);
    expect(due).toBeGreaterThanOrEqual(sent + RETRY_DELAY - 1000);
    expect(due).toBeLessThanOrEqual(Date.now() + RETRY_DELAY);
    await admin.raw((channel) => channel.purgeQueue(waitQueue));
  });

  it('replays with the keyboard only: tab to a dead letter, select it with Space, replay the selection with Enter', async () => {
    const orderId = uniqueName('keyboard');
    await deadLetter(orderId);
    payments.failing.delete(orderId);
    const page = await open(`/warren/dead-letters/${encodeURIComponent(dlq)}`);
    const focusedIs = (selector: string): Promise<boolean> =>
      page.evaluate((s) => (globalThis as unknown as BrowserGlobals).document.activeElement?.matches(s) ?? false, selector);
    const tabTo = async (selector: string): Promise<void> => {
      for (let i = 0; i < 60 && !(await focusedIs(selector)); i++) await page.keyboard.press('Tab');
      expect(await focusedIs(selector)).toBe(true);
    };
    // The skip link comes first and moves focus to the content.
    await page.keyboard.press('Tab');
    expect(await focusedIs('a.skip')).toBe(true);
    await page.keyboard.press('Enter');
    await tabTo(`input[name="id"][value="${orderId}"]`);
    await page.keyboard.press('Space');
    expect(await page.locator(`input[name="id"][value="${orderId}"]`).isChecked()).toBe(true);
    await tabTo('button[data-action="replay-selected"]');
    await page.keyboard.press('Enter');
    await page.locator('#notice', { hasText: 'Replayed 1 message.' }).waitFor();
    // The result is announced and focused, so a keyboard or screen-reader user hears it.
    expect(await focusedIs('#notice')).toBe(true);
    await waitFor(() => payments.charged.includes(orderId), 'the replayed order charged');
    expect(await dlqCount()).toBe(0);
  });

  it('purges only after the queue name is typed to confirm', async () => {
    for (let i = 0; i < 3; i++) await deadLetter(uniqueName('purge'));
    const page = await open(`/warren/dead-letters/${encodeURIComponent(dlq)}`);
    await page.getByRole('button', { name: 'Purge queue…' }).click();
    await page.getByLabel(/Type the queue name/).fill('not-the-name');
    await page.getByRole('button', { name: 'Purge', exact: true }).click();
    await page.locator('#notice', { hasText: 'Type the queue name exactly' }).waitFor();
    expect(await dlqCount()).toBe(3);
    // The server insists too: a purge without the name is refused.
    expect((await act(`/warren/api/dead-letters/${encodeURIComponent(dlq)}/purge`, {})).status).toBe(400);
    expect(await dlqCount()).toBe(3);

    await page.getByLabel(/Type the queue name/).fill(dlq);
    await page.getByRole('button', { name: 'Purge', exact: true }).click();
    await page.locator('#notice', { hasText: 'Purged 3 messages.' }).waitFor();
    expect(await dlqCount()).toBe(0);
    payments.failing.clear();
  });

  it('renders HTML in reasons and payloads inert, cuts large payloads, masks configured paths, and shows binary as hex', async () => {
    const evil = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">`;
    const xss = uniqueName('xss');
    await deadLetter(xss, { reason: `boom ${evil}`, note: evil, card: { number: '4111111111111111', holder: 'A. Customer' } });
    const big = uniqueName('big');
    await deadLetter(big, { blob: 'x'.repeat(200_000) });
    const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 0x00, 0x7f, 0x1b]);
    // No content type: read as JSON, which fails, so the message is dead-lettered as undeserializable.
    await admin.publishRaw(exchange, 'order.created', binary, { messageId: 'binary-1' });
    await waitFor(async () => (await dlqCount()) === 3, 'the binary message dead-lettered');

    const page = await open(`/warren/dead-letters/${encodeURIComponent(dlq)}`);
    const xssRow = page.locator(`tr[data-id="${xss}"]`);
    expect(await xssRow.locator('.reason').textContent()).toBe(`boom ${evil}`);
    expect(await page.locator('table.letters script, table.letters img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).__pwned)).toBeUndefined();
    const preview = await xssRow.locator('pre.payload').textContent();
    expect(preview).toContain('"number": "***"');
    expect(preview).toContain('A. Customer');
    expect(preview).not.toContain('4111111111111111');

    const api = (await (await fetch(`${url}/warren/api/dead-letters/${encodeURIComponent(dlq)}`)).json()) as DeadLetterPage;
    const bigItem = api.items.find((item) => item.id === big)!;
    expect(bigItem.preview.bytes).toBeGreaterThan(200_000);
    expect(Buffer.byteLength(bigItem.preview.text)).toBeLessThanOrEqual(1024);
    expect(bigItem.preview.cut).toBeGreaterThan(199_000);
    const binaryItem = api.items.find((item) => item.id === 'binary-1')!;
    expect(binaryItem.preview.kind).toBe('hidden'); // masks are configured and a binary body cannot be masked
    expect(binaryItem.reason.errorName).toBe('MessageDeserializationError');

    // Without masks (the read-only dashboard), a binary body is shown as hex.
    const plain = (await (await fetch(`${url}/readonly/api/dead-letters/${encodeURIComponent(dlq)}`)).json()) as DeadLetterPage;
    const hex = plain.items.find((item) => item.id === 'binary-1')!.preview;
    expect(hex).toMatchObject({ kind: 'binary', text: '00 01 02 ff fe 80 00 7f 1b', bytes: 9 });
    expect(await dlqCount()).toBe(3);
    await admin.raw((channel) => channel.purgeQueue(dlq));
    payments.failing.clear();
  });

  it('refuses bad input, a missing or foreign CSRF token, read-only actions, and a replay of a message that is gone', async () => {
    const orderId = uniqueName('gone');
    await deadLetter(orderId);
    const replay = `/warren/api/dead-letters/${encodeURIComponent(dlq)}/replay`;
    // Good traffic keeps flowing while the dashboard is fed hostile requests.
    const good = Array.from({ length: 50 }, (_, i) => `${orderId}.good-${i}`);
    const traffic = (async () => {
      for (const id of good) await publish(id);
    })();
    // Well-formed but no longer there: 404 that says so; the queue is untouched.
    const gone = await act(replay, { ids: ['no-such-message'] });
    expect(gone.status).toBe(404);
    expect(String(gone.body.message)).toContain('no longer in');
    expect(await dlqCount()).toBe(1);
    for (const body of [
      {},
      { ids: [] },
      { ids: [42] },
      { ids: ['x'.repeat(300)] },
      { ids: Array.from({ length: 1001 }, (_, i) => `id-${i}`) },
      { all: 'yes' },
      { ids: ['a'], all: true },
    ]) {
      expect([JSON.stringify(body).slice(0, 40), (await act(replay, body)).status]).toEqual([JSON.stringify(body).slice(0, 40), 400]);
    }
    expect((await act('/warren/api/dead-letters/not-a-dlq/replay', { ids: ['a'] })).status).toBe(404);
    expect((await fetch(`${url}/warren/api/dead-letters/${encodeURIComponent(dlq)}?page=-1`)).status).toBe(400);
    expect((await fetch(`${url}/warren/dead-letters/${encodeURIComponent(queue)}`)).status).toBe(404); // a handler queue is not browsable
    const missing = await fetch(`${url}/warren/api/dead-letters/${encodeURIComponent(missingDlq)}`);
    expect([missing.status, ((await missing.json()) as { message: string }).message]).toEqual([404, expect.stringContaining('does not exist on the broker')]);
    expect((await act(`/warren/api/dead-letters/${encodeURIComponent(missingDlq)}/purge`, { confirm: missingDlq })).status).toBe(404);

    // CSRF: no token, a wrong token, a foreign origin, a cross-site fetch.
    const noToken = await fetch(`${url}${replay}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ids: [orderId] }),
    });
    expect(noToken.status).toBe(403);
    expect(((await noToken.json()) as { message: string }).message).toContain('CSRF');
    expect((await act(replay, { ids: [orderId] }, { 'x-warren-csrf': 'A'.repeat(43) })).status).toBe(403);
    expect((await act(replay, { ids: [orderId] }, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await act(replay, { ids: [orderId] }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect(await dlqCount()).toBe(1);

    // Read-only: the page offers no action and the API refuses them.
    const readOnly = await open(`/readonly/dead-letters/${encodeURIComponent(dlq)}`);
    expect(await readOnly.locator('tr[data-id] td').first().textContent()).toContain(orderId);
    expect(await readOnly.locator('button[data-action]').count()).toBe(0);
    expect((await act(`/readonly/api/dead-letters/${encodeURIComponent(dlq)}/replay`, { ids: [orderId] })).status).toBe(403);
    expect((await act(`/readonly/api/dead-letters/${encodeURIComponent(dlq)}/purge`, { confirm: dlq })).status).toBe(403);
    expect(await dlqCount()).toBe(1);

    await traffic;
    await waitFor(() => good.every((id) => payments.charged.includes(id)), 'the good traffic handled, none lost');
    expect(good.map((id) => payments.charged.filter((charged) => charged === id).length)).toEqual(good.map(() => 1));

    // The good path still works next to all that.
    payments.failing.delete(orderId);
    const ok = await act(replay, { ids: [orderId, 'replayed-by-someone-else'] });
    expect(ok).toEqual({ status: 200, body: { replayed: 1, missing: ['replayed-by-someone-else'], failed: [] } });
    await waitFor(() => payments.charged.includes(orderId), 'the replayed order charged');
    expect(await dlqCount()).toBe(0);
  });

  it('puts every route behind the guard: a refusing guard gives a 403 page, 403 JSON, and no assets', async () => {
    const page = await open('/locked/dead-letters');
    expect(await page.locator('h1').textContent()).toBe('403 Forbidden');
    for (const path of [
      '/locked',
      '/locked/handlers',
      '/locked/assets/dashboard.js',
      '/locked/api/handlers',
      `/locked/api/dead-letters/${encodeURIComponent(dlq)}`,
    ]) {
      expect([path, (await fetch(`${url}${path}`)).status]).toEqual([path, 403]);
    }
    // What a guard throws keeps its status and message.
    await page.goto(`${url}/sign-in/queues`);
    expect(await page.locator('h1').textContent()).toBe('401 Unauthorized');
    expect(await page.locator('p').textContent()).toBe('Sign in to see the dashboard');
    expect(await (await fetch(`${url}/sign-in/api/queues`)).json()).toEqual({ statusCode: 401, message: 'Sign in to see the dashboard' });
    const api = await fetch(`${url}/locked/api/queues`);
    expect(await api.json()).toEqual({ statusCode: 403, message: 'Forbidden resource' });
    // The allowing guard was asked for the pages, the assets and the API alike.
    expect(guard.urls).toEqual(expect.arrayContaining(['/warren/handlers', '/warren/assets/dashboard.js', '/warren/assets/dashboard.css']));
    expect(guard.urls.some((u) => u.startsWith('/warren/api/dead-letters/'))).toBe(true);
  });

  it('shows a dropped connection coming back on the connections page, live', async () => {
    const page = await open('/warren/connections');
    const row = page.locator('tr[data-connection="default"]');
    expect(await row.locator('td').nth(3).textContent()).toBe('0');
    expect(await closeConnectionsNamed(connectionName)).toBe(1);
    // The page, left open, refreshes itself: one reconnect, connected again.
    await row.locator('td').nth(3).filter({ hasText: /^1$/ }).waitFor({ timeout: 20_000 });
    await row.locator('.state', { hasText: /^connected$/ }).waitFor({ timeout: 20_000 });
    // Traffic flows again after the reconnect.
    const orderId = uniqueName('after-reconnect');
    await publish(orderId);
    await waitFor(() => payments.charged.includes(orderId), 'an order handled after the reconnect', 15_000);
  }, 60_000);

  it('keeps 10,000 dead letters fast: pages and filters on the server and answers with one bounded page', async () => {
    const total = 10_000;
    const handlersOf = ['Billing.invoice', 'Shipping.label', 'Payments.refund'];
    await admin.raw(async (channel) => {
      for (let i = 0; i < total; i++) {
        const needle = i % 10 === 0;
        channel.sendToQueue(bulkDlq, Buffer.from(JSON.stringify({ n: i, card: { number: `4000-${i}` }, filler: 'y'.repeat(200) })), {
          messageId: `bulk-${i}`,
          contentType: 'application/json',
          headers: {
            [DEAD_LETTER_HEADERS.errorName]: needle ? 'GatewayTimeoutError' : 'ValidationError',
            [DEAD_LETTER_HEADERS.errorMessage]: needle ? `gateway timed out after 30 s (#${i})` : `field 'amount' is negative (#${i})`,
            [DEAD_LETTER_HEADERS.handler]: handlersOf[i % 3],
            [DEAD_LETTER_HEADERS.attempts]: 3,
            [WARREN_HEADERS.originalQueue]: queue,
          },
        });
      }
      await waitFor(async () => (await channel.checkQueue(bulkDlq)).messageCount === total, '10,000 dead letters in the queue', 30_000, 100);
    });

    const path = `/warren/api/dead-letters/${encodeURIComponent(bulkDlq)}?error=gateway&handler=Billing&page=3`;
    const response = await fetch(`${url}${path}`);
    const text = await response.text();
    const page = JSON.parse(text) as DeadLetterPage;
    // i % 10 === 0 and i % 3 === 0: every 30th message.
    expect(page).toMatchObject({
      total,
      scanned: total,
      matched: Math.ceil(total / 30),
      page: 3,
      pageSize: PAGE_SIZE,
      pages: Math.ceil(Math.ceil(total / 30) / PAGE_SIZE),
    });
    expect(page.items).toHaveLength(PAGE_SIZE);
    expect(page.items[0].id).toBe(`bulk-${2 * PAGE_SIZE * 30}`);
    expect(page.items.every((item) => item.reason.handler === 'Billing.invoice' && item.reason.errorName === 'GatewayTimeoutError')).toBe(true);
    expect(page.items.every((item) => !item.preview.text.includes('4000-'))).toBe(true);
    // One page of 25, whatever the queue holds: bounded by the page size and the preview limit, not by the 10,000.
    expect(text.length).toBeLessThan(PAGE_SIZE * 2500);

    const browserPage = await open(`/warren/dead-letters/${encodeURIComponent(bulkDlq)}?error=gateway`);
    expect(await browserPage.locator('table.letters tbody tr').count()).toBe(PAGE_SIZE);
    expect(await browserPage.locator('.counts').textContent()).toContain(`of ${total / 10} matching`);
    const html = await browserPage.content();
    expect(html.length).toBeLessThan(PAGE_SIZE * 4000);
    await browserPage.getByRole('link', { name: 'Next' }).click();
    await browserPage.waitForURL(/page=2/);
    expect(await browserPage.locator('table.letters tbody tr').first().getAttribute('data-id')).toBe(`bulk-${PAGE_SIZE * 10}`);
    // Reading never removes: all 10,000 are still there, in their order.
    expect(await admin.messageCount(bulkDlq)).toBe(total);
  }, 120_000);
});
