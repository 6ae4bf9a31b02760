#!/usr/bin/env node
// Takes the screenshots of docs/images/dashboard-*.png: boots a small Nest app with Warren and the
// dashboard against the broker at AMQP_URL, sends traffic (some of it fails, waits for a retry, or is
// dead-lettered), opens each page in Debian's Chromium (CHROMIUM_PATH) and saves it. Deletes its
// queues and exchange afterwards. Needs the library built (npm run build).
// Usage: node scripts/dashboard-screenshots.js [output dir, default docs/images]
'use strict';
require('reflect-metadata');
const { mkdtempSync, rmSync, mkdirSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');
const { Injectable } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const amqplib = require('amqplib');
const { chromium } = require('playwright-core');
const { RabbitMQModule, RabbitSubscribe, NonRetryableError } = require('@warren/rabbitmq');
const { WarrenDashboardModule, DashboardTelemetry } = require('@warren/rabbitmq/dashboard');

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUT = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'docs', 'images'));

const EXCHANGE = 'shop.orders';
const PAYMENTS = 'shop.payments';
const SHIPPING = 'shop.shipping';
const EMAILS = 'shop.emails';
// An unusual delay, so the wait queue is this script's own and can be deleted afterwards.
const RETRY_DELAY = 47_000;
const WAIT_QUEUE = `warren.retry.wait.classic.${RETRY_DELAY}`;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitFor(check, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

class Payments {
  charge(order) {
    if (order.card.number.endsWith('0002')) throw new NonRetryableError(`card declined: insufficient funds (order ${order.orderId})`);
    if (order.card.number.endsWith('0119')) throw new Error(`payment gateway timed out after 10 s (order ${order.orderId})`);
  }
}
class Shipping {
  label(order) {
    if (order.express && order.orderId.endsWith('35')) {
      const error = new Error(`carrier API refused the address: postcode '${order.postcode}' is not valid for express delivery`);
      error.code = 'ADDRESS_INVALID';
      throw error;
    }
  }
}
class Emails {
  async send() {
    await sleep(2 + Math.random() * 6);
  }
}

function decorate(target, method, decorator) {
  const descriptor = Object.getOwnPropertyDescriptor(target.prototype, method);
  decorator(target.prototype, method, descriptor);
  Reflect.defineMetadata('design:paramtypes', [Object], target.prototype, method);
}
Injectable()(Payments);
Injectable()(Shipping);
Injectable()(Emails);
decorate(
  Payments,
  'charge',
  RabbitSubscribe({
    exchange: EXCHANGE,
    routingKey: 'order.created',
    queue: PAYMENTS,
    retry: { maxAttempts: 3, backoff: { type: 'fixed', delay: RETRY_DELAY } },
  }),
);
decorate(Shipping, 'label', RabbitSubscribe({ exchange: EXCHANGE, routingKey: 'order.paid', queue: SHIPPING, deadLetter: true }));
decorate(Emails, 'send', RabbitSubscribe({ exchange: EXCHANGE, routingKey: 'order.*', queue: EMAILS }));

async function main() {
  mkdirSync(OUT, { recursive: true });
  const telemetry = new DashboardTelemetry();
  const app = await NestFactory.create(
    {
      module: class ScreenshotApp {},
      imports: [
        RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName: 'shop-api', exchanges: [{ name: EXCHANGE, type: 'topic' }], telemetry: [telemetry] }),
        WarrenDashboardModule.forRoot({ path: '/warren', maskPaths: ['card.number', 'customer.email'], telemetry, refreshMs: 0 }),
      ],
      providers: [Payments, Shipping, Emails],
    },
    { logger: ['error'] },
  );
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const amqp = app.get(require('@warren/rabbitmq').AmqpConnection);
  const profile = mkdtempSync(path.join(tmpdir(), 'warren-screens-'));
  let context;
  try {
    const cards = ['4000000000000077', '4000000000000002', '4000000000000119'];
    for (let i = 1; i <= 240; i++) {
      const orderId = `ord-${String(1000 + i)}`;
      const card = { number: i % 37 === 0 ? cards[1] : i === 101 ? cards[2] : cards[0], holder: 'J. Doe' };
      const order = {
        orderId,
        customer: { id: `c-${i % 17}`, email: `customer${i % 17}@example.com` },
        card,
        totalCents: 1299 + i * 7,
        express: i % 5 === 0,
        postcode: `SW${i % 9} 1AA`,
      };
      await amqp.publish(EXCHANGE, 'order.created', order, { messageId: orderId });
      if (card.number === cards[0]) await amqp.publish(EXCHANGE, 'order.paid', order, { messageId: `${orderId}.paid` });
    }
    await waitFor(() => amqp.getHandlerStats()['Emails.send'].handled >= 400, 'the traffic handled', 30_000);
    await waitFor(
      () => amqp.getHandlerStats()['Payments.charge'].deadLettered >= 6 && amqp.getHandlerStats()['Payments.charge'].retried >= 1,
      'failures parked',
    );

    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1480, height: 900 },
    });
    const page = await context.newPage();
    const shoot = async (route, file, prepare) => {
      await page.goto(`${url}${route}`);
      if (prepare) await prepare(page);
      await page.screenshot({ path: path.join(OUT, file), fullPage: true });
      console.log(`wrote ${path.relative(process.cwd(), path.join(OUT, file))}`);
    };
    await shoot('/warren/handlers', 'dashboard-handlers.png');
    await shoot('/warren/queues', 'dashboard-queues.png');
    await shoot('/warren/dead-letters', 'dashboard-dead-letter-queues.png');
    await shoot(`/warren/dead-letters/${encodeURIComponent(`${PAYMENTS}.dlq`)}?error=declined`, 'dashboard-dead-letters.png', async (p) => {
      await p.locator('table.letters tbody tr').first().locator('details').last().locator('summary').click();
      await p.locator('table.letters tbody tr').first().locator('input[type=checkbox]').check();
    });
    await shoot(`/warren/dead-letters/${encodeURIComponent(`${PAYMENTS}.dlq`)}`, 'dashboard-purge.png', async (p) => {
      await p.getByRole('button', { name: 'Purge queue…' }).click();
      await p.getByLabel(/Type the queue name/).fill(`${PAYMENTS}.dlq`);
    });
    await shoot('/warren/connections', 'dashboard-connections.png');
  } finally {
    await context?.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
    await app.close();
    const connection = await amqplib.connect(AMQP_URL);
    const channel = await connection.createChannel();
    for (const queue of [PAYMENTS, `${PAYMENTS}.dlq`, SHIPPING, `${SHIPPING}.dlq`, EMAILS, WAIT_QUEUE]) await channel.deleteQueue(queue);
    await channel.deleteExchange(EXCHANGE);
    await connection.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
