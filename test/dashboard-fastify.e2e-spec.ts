import { Injectable, type CanActivate } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { AmqpConnection, RabbitMQModule, RabbitSubscribe } from '@warren/rabbitmq';
import { WarrenDashboardModule, type DeadLetterPage } from '@warren/rabbitmq/dashboard';
import { launchChromium } from './support/browser';
import { AMQP_URL, BrokerAdmin, uniqueName, waitFor } from './support/broker';

const exchange = uniqueName('dashf.x');
const queue = uniqueName('dashf.work');
const dlq = `${queue}.dlq`;

@Injectable()
class Worker {
  readonly failing = new Set<string>();
  readonly done: string[] = [];

  @RabbitSubscribe({ exchange, routingKey: 'job', queue, deadLetter: true })
  run(payload: { id: string }): void {
    if (this.failing.has(payload.id)) throw new Error(`<b>tool jammed</b> on ${payload.id}`);
    this.done.push(payload.id);
  }
}

@Injectable()
class RefusingGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

/** The same dashboard on Nest's Fastify adapter: pages, API, CSRF, guard, and a replay from the page. */
describe('dashboard on the Fastify adapter', () => {
  let admin: BrokerAdmin;
  let app: NestFastifyApplication;
  let url: string;
  let worker: Worker;
  let amqp: AmqpConnection;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('queue', queue, dlq);
    admin.track('exchange', exchange);
    const moduleRef = await Test.createTestingModule({
      imports: [
        RabbitMQModule.forRoot({ uri: AMQP_URL, exchanges: [{ name: exchange, type: 'direct' }] }),
        WarrenDashboardModule.forRoot({ path: '/warren', refreshMs: 500 }),
        WarrenDashboardModule.forRoot({ path: '/locked', authGuard: RefusingGuard }),
      ],
      providers: [Worker],
    }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: ['error'] });
    // Under a global prefix the dashboard's links, cookie and page script follow it.
    app.setGlobalPrefix('ops');
    await app.listen(0, '127.0.0.1');
    url = `${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/ops`;
    worker = app.get(Worker);
    amqp = app.get(AmqpConnection);
  });

  afterAll(async () => {
    await app?.close();
    await admin?.close();
  });

  it('serves the pages and API, refuses without the guard or the CSRF token, and replays a dead letter from the page', async () => {
    const id = uniqueName('job');
    worker.failing.add(id);
    await amqp.publish(exchange, 'job', { id }, { messageId: id });
    await waitFor(async () => (await admin.messageCount(dlq)) === 1, 'the job dead-lettered');

    const page = await fetch(`${url}/warren/handlers`);
    expect([page.status, page.headers.get('content-type'), page.headers.get('content-security-policy')?.startsWith("default-src 'none'")]).toEqual([
      200,
      'text/html; charset=utf-8',
      true,
    ]);
    const setCookie = page.headers.get('set-cookie')!;
    expect(setCookie).toContain('Path=/ops/warren;');
    expect(await page.text()).toContain('href="/ops/warren/queues"');
    const cookie = setCookie.split(';')[0];
    const list = (await (await fetch(`${url}/warren/api/dead-letters/${encodeURIComponent(dlq)}?error=jammed`)).json()) as DeadLetterPage;
    expect(list.items.map((item) => [item.id, item.reason.errorMessage])).toEqual([[id, `<b>tool jammed</b> on ${id}`]]);

    const replay = `${url}/warren/api/dead-letters/${encodeURIComponent(dlq)}/replay`;
    const refused = await fetch(replay, { method: 'POST', headers: { 'content-type': 'application/json', cookie }, body: JSON.stringify({ ids: [id] }) });
    expect(refused.status).toBe(403);
    expect((await fetch(`${url}/locked/handlers`)).status).toBe(403);
    expect(await (await fetch(`${url}/locked/api/handlers`)).json()).toEqual({ statusCode: 403, message: 'Forbidden resource' });

    const chromium = await launchChromium();
    try {
      const tab = await chromium.context.newPage();
      tab.setDefaultTimeout(15_000);
      await tab.goto(`${url}/locked/queues`);
      expect(await tab.locator('h1').textContent()).toBe('403 Forbidden');
      await tab.goto(`${url}/warren/dead-letters/${encodeURIComponent(dlq)}`);
      expect(await tab.locator(`tr[data-id="${id}"] .reason`).textContent()).toBe(`<b>tool jammed</b> on ${id}`);
      worker.failing.delete(id);
      await tab.getByRole('button', { name: `Replay ${id}` }).click();
      await tab.locator('#notice', { hasText: 'Replayed 1 message.' }).waitFor();
    } finally {
      await chromium.close();
    }
    await waitFor(() => worker.done.includes(id), 'the replayed job done');
    expect(await admin.messageCount(dlq)).toBe(0);
  });
});
