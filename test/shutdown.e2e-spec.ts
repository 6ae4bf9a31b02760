import { Injectable, type INestApplicationContext } from '@nestjs/common';
import type { ConsumeMessage } from 'amqplib';
import { AmqpConnection, ConnectionClosedError, RabbitMQModule, RabbitSubscribe, WarrenError } from '@warren/rabbitmq';
import { CapturingLogger, createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, uniqueName, waitFor } from './support/broker';

const queue = uniqueName('shutdown.work');
const sinkQ = uniqueName('shutdown.sink');
const TOTAL = 300;

/** Shared by both applications: which message ids were handled, by which app. */
const handled: Array<{ id: string; app: string }> = [];

@Injectable()
class Worker {
  app = '?';
  @RabbitSubscribe({ queue, prefetch: 20 })
  async work(_payload: unknown, message: ConsumeMessage): Promise<void> {
    await new Promise((r) => setTimeout(r, 50 + Math.floor(Math.random() * 50)));
    handled.push({ id: message.properties.messageId as string, app: this.app });
  }
}

async function startWorker(name: string): Promise<INestApplicationContext> {
  const app = await createApp(
    { imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName: uniqueName(name) })], providers: [Worker] },
    new CapturingLogger(),
  );
  app.get(Worker).app = name;
  return app;
}

describe('graceful shutdown', () => {
  let admin: BrokerAdmin;
  const open: INestApplicationContext[] = [];

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('queue', queue, sinkQ);
  });

  afterAll(async () => {
    for (const app of open) await app.close();
    await admin?.close();
  });

  it('hands every message to exactly one of two applications when the first closes mid-stream', async () => {
    const first = await startWorker('first');
    open.push(first);
    const result = await first
      .get(AmqpConnection)
      .publishBatch(Array.from({ length: TOTAL }, (_, i) => ({ exchange: '', routingKey: queue, message: { i }, options: { messageId: `m-${i}` } })));
    expect(result.failed).toEqual([]);

    await waitFor(() => handled.length >= 60, 'the first application to be busy');
    await first.close();
    open.splice(open.indexOf(first), 1);
    const byFirst = handled.length;
    expect(byFirst).toBeLessThan(TOTAL);

    const second = await startWorker('second');
    open.push(second);
    await waitFor(() => new Set(handled.map((h) => h.id)).size === TOTAL, 'every message to be handled', 10_000);
    // Let any duplicate (a redelivery of something already handled) show up.
    await waitFor(async () => (await admin.messageCount(queue)) === 0, 'the queue to be empty');
    await new Promise((r) => setTimeout(r, 200));

    const ids = handled.map((h) => h.id);
    expect(ids.length).toBe(TOTAL);
    expect(new Set(ids).size).toBe(TOTAL);
    expect(handled.slice(byFirst).every((h) => h.app === 'second')).toBe(true);
    expect(handled.filter((h) => h.app === 'second').length).toBe(TOTAL - byFirst);
  });

  it('settles every pending publish when the application closes, and rejects publishes after close', async () => {
    const app = await createApp({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, queues: [{ name: sinkQ }] })] }, new CapturingLogger());
    const amqp = app.get(AmqpConnection);
    const outcomes: Array<'pending' | 'confirmed' | Error> = [];
    const publishes = Array.from({ length: 500 }, (_, i) => {
      outcomes[i] = 'pending';
      return amqp.publish('', sinkQ, { i }).then(
        () => void (outcomes[i] = 'confirmed'),
        (error: Error) => void (outcomes[i] = error),
      );
    });
    await app.close();
    await waitFor(() => outcomes.every((o) => o !== 'pending'), 'every publish to settle', 2000);
    await Promise.all(publishes);

    const confirmed = outcomes.filter((o) => o === 'confirmed').length;
    for (const outcome of outcomes) {
      if (outcome !== 'confirmed') expect(outcome).toBeInstanceOf(WarrenError);
    }
    // A confirm is a promise: every confirmed message is on the queue.
    expect(await admin.messageCount(sinkQ)).toBeGreaterThanOrEqual(confirmed);

    const started = Date.now();
    await expect(amqp.publish('', sinkQ, { late: true })).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(Date.now() - started).toBeLessThan(100);
  });

  it('closes promptly without a broker, rejecting the publishes still waiting for a connection', async () => {
    const app = await createApp(
      { imports: [RabbitMQModule.forRoot({ uri: 'amqp://guest:guest@127.0.0.1:1', connectionInitOptions: { wait: false } })] },
      new CapturingLogger(),
    );
    const amqp = app.get(AmqpConnection);
    const waiting = amqp.publish('', sinkQ, { never: 'sent' }).then(
      () => 'confirmed',
      (error: unknown) => error,
    );
    const started = Date.now();
    await app.close();
    const outcome = await waiting;
    expect(outcome).toBeInstanceOf(ConnectionClosedError);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
