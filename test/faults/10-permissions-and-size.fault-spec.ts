import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { AmqpConnection, DeadLetterService, MessageTooLargeError, RabbitMQModule, RabbitSubscribe, TopologyError } from '@warren/rabbitmq';
import { BrokerAdmin, rabbitmqctl } from '../support/broker';
import { captureError } from './support/capture';
import { TotalQueueChecker } from './support/checker';
import { faultCredentials, faultUrl } from './support/fault-env';
import { recordFigures, since } from './support/figures';
import { bootApp, currentTest, faultName, resetLogger } from './support/harness';
import { sleep, until } from './support/stream';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('security: permissions and message size limits', () => {
  let admin: BrokerAdmin;
  const apps: INestApplicationContext[] = [];

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
  });

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    await admin.close();
    resetLogger();
  });

  it('a user without permission to declare a queue gets a clear ACCESS_REFUSED naming it, and the other handlers keep running', async () => {
    const started = Date.now();
    const okQueue = faultName('acl.ok.q');
    const okExchange = faultName('acl.ok.x');
    const deniedQueue = faultName('acl.denied.q');
    admin.track('queue', okQueue, deniedQueue);
    admin.track('exchange', okExchange);
    // A user of its own (same distinctive password, so the credentials scan covers it), allowed to
    // configure only the test.faults.acl.ok.* names.
    const { user, password } = faultCredentials();
    const limited = `${user}-limited`;
    await rabbitmqctl('add_user', limited, password);
    await rabbitmqctl('set_permissions', '-p', '/', limited, '^test\\.faults\\.acl\\.ok\\..*', '.*', '.*');
    const checker = new TotalQueueChecker();

    @Injectable()
    class Handlers {
      @RabbitSubscribe({ exchange: okExchange, routingKey: 'ok', queue: okQueue })
      ok(payload: { id: string }): void {
        checker.delivered(payload.id);
        checker.processed(payload.id);
      }

      @RabbitSubscribe({ exchange: okExchange, routingKey: 'denied', queue: deniedQueue })
      denied(): void {
        throw new Error('never runs');
      }
    }

    try {
      const url = faultUrl().replace(encodeURIComponent(user), encodeURIComponent(limited));
      const booted = await bootApp(
        {
          imports: [RabbitMQModule.forRoot({ uri: url, connectionName: faultName('acl-app'), exchanges: [{ name: okExchange, type: 'direct' }] })],
          providers: [Handlers],
        },
        'acl',
      );
      apps.push(booted.app);
      const { amqp, logger } = booted;
      await until(() => amqp.topologyErrors.length > 0, 5_000);
      const refusal = amqp.topologyErrors.find((e) => e instanceof TopologyError && e.code === 'ACCESS_REFUSED') as TopologyError | undefined;
      for (const error of amqp.topologyErrors) captureError('acl', error);

      const results = await amqp.publishBatch(
        Array.from({ length: 1_000 }, (_, i) => {
          checker.attempt(`acl-${i}`);
          return { exchange: okExchange, routingKey: 'ok', message: { id: `acl-${i}` } };
        }),
      );
      const failed = new Set(results.failed.map((f) => f.index));
      for (let i = 0; i < 1_000; i++) if (!failed.has(i)) checker.confirmed(`acl-${i}`);
      await until(() => checker.settled, 10_000);
      const figures = checker.report();
      const logged = logger.lines.filter((line) => line.includes(deniedQueue) && /ACCESS|access refused/i.test(line));

      recordFigures({
        id: 'S3',
        scenario: 'no permission to declare a queue',
        test: currentTest(),
        figures,
        durationMs: since(started),
        notes: `${refusal ? `${refusal.name} ${refusal.code} on ${refusal.kind} '${refusal.resource}': "${refusal.message}"` : 'NO ACCESS_REFUSED error'}; ${logged.length} log line(s) name it; the other handler processed ${figures.processed}/1000`,
      });

      expect(refusal).toBeDefined();
      expect(refusal?.kind).toBe('queue');
      expect(refusal?.resource).toBe(deniedQueue);
      expect(refusal?.message).toContain(`'${deniedQueue}'`);
      expect(refusal?.message).toMatch(/access refused/i);
      expect(refusal?.message).toMatch(/set_permissions/);
      expect(logged.length).toBeGreaterThan(0);
      expect(results.failed).toEqual([]);
      expect(figures.lost).toBe(0);
    } finally {
      await rabbitmqctl('delete_user', limited).catch(() => undefined);
    }
  });

  it('dead-letters incoming messages over maxMessageSize with the reason, and rejects outgoing ones before they are sent', async () => {
    const started = Date.now();
    const exchange = faultName('size.x');
    const queue = faultName('size.q');
    admin.track('queue', queue, `${queue}.dlq`);
    admin.track('exchange', exchange);
    const MAX = 64 * 1024;
    const BIG = 2 * 1024 * 1024;
    const BIG_COUNT = 50;
    const SMALL_COUNT = 1_000;
    const checker = new TotalQueueChecker();
    let bigSeen = 0;

    @Injectable()
    class Sized {
      @RabbitSubscribe({ exchange, routingKey: queue, queue, prefetch: 20, deadLetter: true })
      handle(payload: { id: string; pad?: string }): void {
        if (payload.pad !== undefined) bigSeen++;
        checker.delivered(payload.id);
        checker.processed(payload.id);
      }
    }
    const booted = await bootApp(
      {
        imports: [
          RabbitMQModule.forRoot({
            uri: faultUrl(),
            connectionName: faultName('size-app'),
            maxMessageSize: MAX,
            exchanges: [{ name: exchange, type: 'direct' }],
          }),
        ],
        providers: [Sized],
      },
      'size',
    );
    apps.push(booted.app);
    const amqp = booted.app.get(AmqpConnection);

    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    let peakHeap = heapBefore;
    const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 20);
    // Incoming: another client (not limited by this app's maxMessageSize) sends big bodies among small ones.
    const pad = 'x'.repeat(BIG);
    await admin.raw(async (channel) => {
      for (let i = 0; i < SMALL_COUNT; i++) {
        checker.attempt(`small-${i}`);
        checker.confirmed(`small-${i}`);
        if (i % (SMALL_COUNT / BIG_COUNT) === 0) {
          channel.publish(exchange, queue, Buffer.from(JSON.stringify({ id: `big-${i}`, pad })), { messageId: `big-${i}`, contentType: 'application/json' });
        }
        channel.publish(exchange, queue, Buffer.from(JSON.stringify({ id: `small-${i}` })), { messageId: `small-${i}`, contentType: 'application/json' });
      }
    });
    const parked = await until(async () => checker.settled && (await admin.messageCount(`${queue}.dlq`)) === BIG_COUNT, 30_000, 100);
    clearInterval(sampler);
    const dead = await booted.app.get(DeadLetterService).peek(`${queue}.dlq`, { limit: BIG_COUNT + 5 });
    const reasons = new Set(dead.map((d) => `${d.reason.errorCode}/${d.reason.attempts}`));

    // Outgoing: rejected before anything is sent.
    const countBefore = await admin.messageCount(queue);
    const t0 = Date.now();
    const outgoing = await amqp.publish(exchange, queue, { id: 'too-big', pad: 'y'.repeat(MAX) }).then(
      () => undefined,
      (error: unknown) => error,
    );
    const rejectMs = Date.now() - t0;
    const rpc = await amqp.request({ exchange, routingKey: queue, payload: { pad: 'z'.repeat(MAX) } }).then(
      () => undefined,
      (error: unknown) => error,
    );
    captureError('size', outgoing);
    captureError('size', rpc);
    await sleep(300);
    const countAfter = await admin.messageCount(queue);
    const figures = checker.report();

    recordFigures({
      id: 'S4',
      scenario: `maxMessageSize ${MAX / 1024} KiB: ${BIG_COUNT} × ${BIG / 1024 / 1024} MiB incoming, oversized outgoing`,
      test: currentTest(),
      figures,
      durationMs: since(started),
      notes:
        `${dead.length} dead-lettered (reason code/attempts: ${[...reasons].join(', ')}), handler saw ${bigSeen} big ones; ` +
        `peak heap +${((peakHeap - heapBefore) / 1024 / 1024).toFixed(0)} MB for ${((BIG * BIG_COUNT) / 1024 / 1024).toFixed(0)} MB received; ` +
        `outgoing: ${(outgoing as Error)?.name} in ${rejectMs} ms, request: ${(rpc as Error)?.name}; queue ${countBefore} -> ${countAfter}`,
    });

    expect(parked).toBe(true);
    expect(figures.lost).toBe(0);
    expect(bigSeen).toBe(0);
    expect(dead).toHaveLength(BIG_COUNT);
    expect([...reasons]).toEqual(['MESSAGE_TOO_LARGE/1']);
    expect(outgoing).toBeInstanceOf(MessageTooLargeError);
    expect((outgoing as MessageTooLargeError).message).toMatch(/exceeds maxMessageSize/);
    expect(rejectMs).toBeLessThan(100);
    expect(rpc).toBeInstanceOf(MessageTooLargeError);
    expect(countAfter).toBe(countBefore);
  });
});
