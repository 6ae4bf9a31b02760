import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { AmqpConnection, DeadLetterService, Nack, RabbitMQModule, RabbitSubscribe } from '@warren/rabbitmq';
import { CapturingLogger, createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, uniqueName, waitFor } from './support/broker';

const exchange = uniqueName('dlq.x');
const queue = uniqueName('dlq.work');
const customDlq = uniqueName('dlq.custom');
const nackQueue = uniqueName('dlq.nack');
const customDlx = uniqueName('dlq.dlx');

@Injectable()
class Worker {
  broken = true;
  readonly handled = new Map<number, number>();

  @RabbitSubscribe({ exchange, routingKey: 'work', queue, deadLetter: true })
  work(payload: { n: number }): void {
    if (this.broken) throw new Error(`broken dependency for ${payload.n}`);
    this.handled.set(payload.n, (this.handled.get(payload.n) ?? 0) + 1);
  }

  @RabbitSubscribe({
    exchange,
    routingKey: 'nack',
    queue: nackQueue,
    deadLetter: { queue: customDlq, exchange: customDlx, maxLength: 1000 },
  })
  refuse(): Nack {
    return new Nack();
  }
}

describe('dead-letter queues', () => {
  let app: INestApplicationContext;
  let admin: BrokerAdmin;
  let worker: Worker;
  let amqp: AmqpConnection;
  let deadLetters: DeadLetterService;
  const dlq = `${queue}.dlq`;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('queue', queue, dlq, nackQueue, customDlq);
    admin.track('exchange', exchange, customDlx);
    app = await createApp({
      imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, exchanges: [{ name: exchange, type: 'direct' }] })],
      providers: [Worker],
    });
    worker = app.get(Worker);
    amqp = app.get(AmqpConnection);
    deadLetters = app.get(DeadLetterService);
  });

  afterAll(async () => {
    await app?.close();
    await admin?.close();
  });

  it('parks 100 failures with reasons, peeks without losing any, and replays them all once the cause is fixed', async () => {
    await amqp.publishBatch(Array.from({ length: 100 }, (_, n) => ({ exchange, routingKey: 'work', message: { n } })));
    await waitFor(async () => (await deadLetters.count(dlq)) === 100, '100 dead letters');

    const peeked = await deadLetters.peek(dlq, { limit: 5 });
    expect(peeked).toHaveLength(5);
    expect(peeked[0].reason).toMatchObject({ errorName: 'Error', handler: 'Worker.work', attempts: 1, exchange, routingKey: 'work', queue });
    expect(peeked[0].reason.errorMessage).toMatch(/^broken dependency for \d+$/);
    expect(await deadLetters.count(dlq)).toBe(100);

    // Replay only the even ones first, through a filter.
    worker.broken = false;
    const even = await deadLetters.replay(dlq, { filter: (d) => (d.payload as { n: number }).n % 2 === 0 });
    expect(even).toMatchObject({ replayed: 50, kept: 50 });
    await waitFor(() => worker.handled.size === 50, '50 replayed messages handled');
    expect(await deadLetters.count(dlq)).toBe(50);

    const rest = await deadLetters.replay(dlq, { limit: 1000 });
    expect(rest.replayed).toBe(50);
    await waitFor(() => worker.handled.size === 100, 'all 100 handled');
    expect([...worker.handled.values()].every((count) => count === 1)).toBe(true);
    expect(await deadLetters.count(dlq)).toBe(0);
  });

  it('replays with the attempt count reset, and a limit', async () => {
    worker.broken = true;
    await amqp.publishBatch(Array.from({ length: 3 }, (_, i) => ({ exchange, routingKey: 'work', message: { n: 1000 + i } })));
    await waitFor(async () => (await deadLetters.count(dlq)) === 3, '3 dead letters');
    const first = await deadLetters.replay(dlq, { limit: 1 });
    expect(first).toMatchObject({ replayed: 1, kept: 2 });
    await waitFor(async () => (await deadLetters.count(dlq)) === 3, 'the replayed one back (still broken)');
    const again = await deadLetters.peek(dlq, { limit: 3 });
    expect(again.map((d) => d.reason.attempts)).toEqual([1, 1, 1]);
    expect(await deadLetters.purge(dlq)).toBe(3);
    expect(await deadLetters.count(dlq)).toBe(0);
  });

  it('routes broker-side dead letters (new Nack()) to the named dead-letter queue through the named exchange', async () => {
    await amqp.publish(exchange, 'nack', { refused: true });
    await waitFor(async () => (await deadLetters.count(customDlq)) === 1, 'the nacked message');
    const [dead] = await deadLetters.peek(customDlq);
    expect(dead.payload).toEqual({ refused: true });
    expect(dead.reason).toMatchObject({ errorName: 'BrokerDeadLetter', queue: nackQueue });
    expect(dead.reason.errorMessage).toContain('rejected');
  });
});

describe('handlers whose failures would be lost', () => {
  it('are named in a start-up warning', async () => {
    const bare = uniqueName('dlq.bare');
    const kept = uniqueName('dlq.kept');
    const requeued = uniqueName('dlq.requeued-quorum');
    const implied = uniqueName('dlq.implied-quorum');
    @Injectable()
    class Handlers {
      @RabbitSubscribe({ exchange: 'amq.direct', routingKey: bare, queue: bare })
      bare(): void {}

      @RabbitSubscribe({ exchange: 'amq.direct', routingKey: kept, queue: kept, deadLetter: true })
      kept(): void {}

      // Requeued failures on a quorum queue that opted out of dead-lettering: the delivery limit (20 by default on RabbitMQ 4) ends them, with nowhere to go.
      @RabbitSubscribe({
        exchange: 'amq.direct',
        routingKey: requeued,
        queue: requeued,
        queueOptions: { type: 'quorum' },
        errorBehavior: 'requeue',
        deadLetter: false,
      })
      requeued(): void {}

      // The same without the opt-out: a quorum queue without deliveryLimit gets <queue>.dlq, so nothing is dropped.
      @RabbitSubscribe({ exchange: 'amq.direct', routingKey: implied, queue: implied, queueOptions: { type: 'quorum' }, errorBehavior: 'requeue' })
      implied(): void {}
    }
    const logger = new CapturingLogger();
    const admin = await BrokerAdmin.connect();
    admin.track('queue', bare, kept, `${kept}.dlq`, requeued, implied, `${implied}.dlq`);
    const app = await createApp({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL })], providers: [Handlers] }, logger);
    try {
      const warnings = logger.lines.filter((l) => l.includes('is dropped by the broker'));
      expect(warnings).toHaveLength(2);
      expect(warnings.filter((w) => w.includes('Handlers.bare'))).toHaveLength(1);
      expect(warnings.find((w) => w.includes('Handlers.requeued'))).toContain('delivery limit');
      expect(warnings.some((w) => w.includes('Handlers.implied'))).toBe(false);
      expect(await admin.queueExists(`${implied}.dlq`)).toBe(true);
    } finally {
      await app.close();
      await admin.close();
    }
  });
});
