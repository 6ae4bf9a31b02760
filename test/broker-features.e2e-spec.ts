import { Injectable, Logger, type INestApplicationContext } from '@nestjs/common';
import {
  AmqpConnection,
  DeadLetterService,
  InvalidOptionsError,
  Nack,
  RabbitMQModule,
  RabbitSubscribe,
  redeliveryCount,
  WARREN_HEADERS,
  type ConsumeInfo,
  type ConsumeOutcome,
} from '@warren/rabbitmq';
import type { ConsumeMessage } from 'amqplib';
import { bootExpectingFailure, createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, rabbitmqctl, uniqueName, waitFor } from './support/broker';

/** Messages in a queue, ready and unacknowledged, as the broker counts them. */
async function queueTotal(queue: string): Promise<number | undefined> {
  const out = await rabbitmqctl('list_queues', '-q', '--no-table-headers', 'name', 'messages');
  const line = out.split('\n').find((l) => l.split('\t')[0] === queue);
  return line === undefined ? undefined : Number(line.split('\t')[1]);
}

/**
 * What Warren does with broker features that differ between RabbitMQ 3.10 and 4.x: the broker's
 * redelivery count, dead-letter routing for quorum queues without a delivery limit, Warren's headers
 * across everything the broker does to a message, quorum-queue priorities and per-queue consumer
 * timeouts. Every test runs on whichever broker AMQP_URL points at (`npm test`: 3.10,
 * `npm run test:rabbitmq4`: 4.0) and checks that version's behaviour.
 */
const exchange = uniqueName('features.x');
const countQuorumQ = uniqueName('features.count-quorum');
const countClassicQ = uniqueName('features.count-classic');
const impliedRejectQ = uniqueName('features.implied-reject');
const impliedRequeueQ = uniqueName('features.implied-requeue');
const optOutQ = uniqueName('features.opt-out');
const optOutRequeueQ = uniqueName('features.opt-out-requeue');
const journeyQ = uniqueName('features.journey');
const priorityQ = uniqueName('features.priority');
const timeoutQ = uniqueName('features.consumer-timeout');
/** Deliveries of one message in the counting tests: the first and three requeues. */
const DELIVERIES = 4;
/** RabbitMQ 4's default delivery limit of a quorum queue: the 21st delivery is dead-lettered. */
const DEFAULT_LIMIT = 20;
/** Requeues the implied-routing handler makes on 3.x (no default limit) before it accepts the message. */
const REQUEUES_ON_3X = DEFAULT_LIMIT + 3;
const CONSUMER_TIMEOUT = 1000;

interface Seen {
  count: number;
  redelivered: boolean;
  header: unknown;
}

@Injectable()
class FeatureHandlers {
  readonly quorum: Seen[] = [];
  readonly classic: Seen[] = [];
  impliedRequeues = 0;
  optOutRequeues = 0;
  readonly journey: Array<{ attempt: unknown; redelivered: boolean; headers: Record<string, unknown> }> = [];
  readonly timeoutDeliveries: boolean[] = [];
  /** Releases the first consumer-timeout delivery's handler (it holds it past the timeout). */
  releaseHeld?: () => void;

  private seen(into: Seen[], message: ConsumeMessage, type: 'classic' | 'quorum'): Nack | void {
    into.push({ count: redeliveryCount(message, type), redelivered: message.fields.redelivered, header: message.properties.headers?.['x-delivery-count'] });
    if (into.length < DELIVERIES) return new Nack(true);
  }

  @RabbitSubscribe({ exchange, routingKey: 'count.quorum', queue: countQuorumQ, queueOptions: { type: 'quorum' } })
  onQuorum(_payload: unknown, message: ConsumeMessage): Nack | void {
    return this.seen(this.quorum, message, 'quorum');
  }

  @RabbitSubscribe({ exchange, routingKey: 'count.classic', queue: countClassicQ })
  onClassic(_payload: unknown, message: ConsumeMessage): Nack | void {
    return this.seen(this.classic, message, 'classic');
  }

  /** No deliveryLimit, no deadLetter: a failure is rejected (the default errorBehavior) and the broker dead-letters it. */
  @RabbitSubscribe({ exchange, routingKey: 'implied.reject', queue: impliedRejectQ, queueOptions: { type: 'quorum' } })
  onImpliedReject(): void {
    throw new Error('rejected by the handler');
  }

  /** No deliveryLimit, no deadLetter, failures requeued: RabbitMQ 4 dead-letters the 21st delivery. */
  @RabbitSubscribe({ exchange, routingKey: 'implied.requeue', queue: impliedRequeueQ, queueOptions: { type: 'quorum' }, errorBehavior: 'requeue' })
  onImpliedRequeue(): void {
    // 3.x has no default limit: stop after a few more than 4.x allows.
    if (++this.impliedRequeues <= REQUEUES_ON_3X) throw new Error(`requeue ${this.impliedRequeues}`);
  }

  @RabbitSubscribe({ exchange, routingKey: 'opt-out', queue: optOutQ, queueOptions: { type: 'quorum' }, deadLetter: false })
  onOptOut(): void {
    throw new Error('dropped: the handler opted out of dead-lettering');
  }

  /** Opted out and requeued: RabbitMQ 4 drops the message at its default delivery limit. */
  @RabbitSubscribe({
    exchange,
    routingKey: 'opt-out.requeue',
    queue: optOutRequeueQ,
    queueOptions: { type: 'quorum' },
    errorBehavior: 'requeue',
    deadLetter: false,
  })
  onOptOutRequeue(): void {
    if (++this.optOutRequeues <= REQUEUES_ON_3X) throw new Error(`requeue ${this.optOutRequeues}`);
  }

  /** Attempt 1 fails (delayed retry through a wait queue's TTL), attempt 2 is requeued once, then fails twice more: dead-lettered. */
  @RabbitSubscribe({
    exchange,
    routingKey: 'journey',
    queue: journeyQ,
    queueOptions: { type: 'quorum' },
    retry: { maxAttempts: 3, backoff: { type: 'fixed', delay: 50 } },
  })
  onJourney(_payload: unknown, message: ConsumeMessage, headers: Record<string, unknown>): Nack | void {
    this.journey.push({ attempt: headers[WARREN_HEADERS.attempt], redelivered: message.fields.redelivered, headers: { ...headers } });
    if (this.journey.length === 2) return new Nack(true);
    throw new Error(`journey step ${this.journey.length} fails`);
  }

  @RabbitSubscribe({ exchange, routingKey: 'timeout', queue: timeoutQ, queueOptions: { type: 'quorum', consumerTimeout: CONSUMER_TIMEOUT } })
  async onTimeout(_payload: unknown, message: ConsumeMessage): Promise<void> {
    this.timeoutDeliveries.push(message.fields.redelivered);
    if (this.timeoutDeliveries.length === 1) await new Promise<void>((resolve) => (this.releaseHeld = resolve));
  }
}

describe('broker features across RabbitMQ 3.10 and 4.x', () => {
  let app: INestApplicationContext;
  let admin: BrokerAdmin;
  let amqp: AmqpConnection;
  let handlers: FeatureHandlers;
  let version: { major: number; minor: number };
  let warnings: jest.SpyInstance | undefined;
  const warned = (text: string): boolean => (warnings?.mock.calls ?? []).some(([message]) => typeof message === 'string' && message.includes(text));
  const telemetry: Array<{ queue: string; redeliveries: number }> = [];

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    const queues = [countQuorumQ, countClassicQ, impliedRejectQ, impliedRequeueQ, optOutQ, optOutRequeueQ, journeyQ, priorityQ, timeoutQ];
    admin.track('queue', ...queues, ...queues.map((q) => `${q}.dlq`));
    admin.track('exchange', exchange);
    // Module-level queues are declared while the testing module is built, before any logger can be handed to it.
    warnings = jest.spyOn(Logger.prototype, 'warn');
    app = await createApp({
      imports: [
        RabbitMQModule.forRoot({
          uri: AMQP_URL,
          exchanges: [{ name: exchange, type: 'topic' }],
          queues: [{ name: priorityQ, type: 'quorum', maxPriority: 10 }],
          telemetry: [
            {
              onConsume: (info: ConsumeInfo, next: () => Promise<ConsumeOutcome>) => {
                telemetry.push({ queue: info.queue, redeliveries: info.redeliveries });
                return next();
              },
            },
          ],
        }),
      ],
      providers: [FeatureHandlers],
    });
    handlers = app.get(FeatureHandlers);
    amqp = app.get(AmqpConnection);
    const announced = String(await admin.raw(async (ch) => ch.connection.serverProperties.version));
    const [major, minor] = announced.split('.').map(Number);
    version = { major, minor };
  });

  afterAll(async () => {
    handlers?.releaseHeld?.();
    await app?.close();
    await admin?.close();
    warnings?.mockRestore();
  });

  it('counts redeliveries with the broker’s x-delivery-count on a quorum queue, ignoring one a publisher set', async () => {
    // A publisher-set count reaches the first delivery on 3.10 and 4.x alike; from the first requeue the broker's own replaces it.
    await amqp.publish(exchange, 'count.quorum', { n: 1 }, { headers: { 'x-delivery-count': 7 } });
    await waitFor(() => handlers.quorum.length === DELIVERIES, 'the quorum message delivered four times');
    expect(handlers.quorum.map((s) => s.count)).toEqual([0, 1, 2, 3]);
    expect(handlers.quorum.map((s) => s.header)).toEqual([7, 1, 2, 3]);
    expect(telemetry.filter((t) => t.queue === countQuorumQ).map((t) => t.redeliveries)).toEqual([0, 1, 2, 3]);
  });

  it('counts any redelivery from a classic queue as 1: the broker only flags it, and passes a publisher-set count through', async () => {
    await amqp.publish(exchange, 'count.classic', { n: 1 }, { headers: { 'x-delivery-count': 7 } });
    await waitFor(() => handlers.classic.length === DELIVERIES, 'the classic message delivered four times');
    expect(handlers.classic.map((s) => s.count)).toEqual([0, 1, 1, 1]);
    expect(handlers.classic.map((s) => s.header)).toEqual([7, 7, 7, 7]);
    expect(telemetry.filter((t) => t.queue === countClassicQ).map((t) => t.redeliveries)).toEqual([0, 1, 1, 1]);
  });

  it('gives a quorum queue without deliveryLimit the <queue>.dlq routing: a rejected failure lands there, not dropped', async () => {
    await amqp.publish(exchange, 'implied.reject', { n: 1 });
    await waitFor(async () => (await admin.messageCount(`${impliedRejectQ}.dlq`)) === 1, 'the rejected message in the implied dead-letter queue');
    const [dead] = await app.get(DeadLetterService).peek(`${impliedRejectQ}.dlq`);
    expect(dead.reason).toMatchObject({ errorName: 'BrokerDeadLetter', queue: impliedRejectQ, routingKey: 'implied.reject' });
    expect(dead.reason.errorMessage).toContain('rejected');
  });

  it('dead-letters a message requeued past RabbitMQ 4’s default delivery limit into that queue (3.x: no default limit)', async () => {
    await amqp.publish(exchange, 'implied.requeue', { n: 1 });
    if (version.major >= 4) {
      await waitFor(async () => (await admin.messageCount(`${impliedRequeueQ}.dlq`)) === 1, 'the message dead-lettered by the delivery limit', 20_000);
      expect(handlers.impliedRequeues).toBe(DEFAULT_LIMIT + 1);
      const [dead] = await app.get(DeadLetterService).peek(`${impliedRequeueQ}.dlq`);
      expect(dead.reason.errorName).toBe('BrokerDeadLetter');
      expect(dead.reason.errorMessage).toContain('delivery limit');
    } else {
      await waitFor(() => amqp.getHandlerStats()['FeatureHandlers.onImpliedRequeue']?.handled === 1, 'the message handled after its requeues', 20_000);
      expect(handlers.impliedRequeues).toBe(REQUEUES_ON_3X + 1);
      expect(await admin.messageCount(`${impliedRequeueQ}.dlq`)).toBe(0);
    }
  }, 30_000);

  it('leaves a quorum queue with deadLetter: false without dead-letter routing', async () => {
    await amqp.publish(exchange, 'opt-out', { n: 1 });
    await waitFor(() => amqp.getHandlerStats()['FeatureHandlers.onOptOut']?.failed === 1, 'the failure');
    expect(await admin.queueExists(`${optOutQ}.dlq`)).toBe(false);
    expect(await admin.messageCount(optOutQ)).toBe(0);
  });

  it('lets RabbitMQ 4 drop a message requeued past the default limit on a quorum queue that opted out (3.x: requeued on)', async () => {
    await amqp.publish(exchange, 'opt-out.requeue', { n: 1 });
    if (version.major >= 4) {
      // Gone from the queue altogether (ready and unacked), by the broker's count: dropped, not dead-lettered.
      await waitFor(
        async () => handlers.optOutRequeues === DEFAULT_LIMIT + 1 && (await queueTotal(optOutRequeueQ)) === 0,
        'the 21st delivery, then no message',
        20_000,
      );
      expect(handlers.optOutRequeues).toBe(DEFAULT_LIMIT + 1);
      expect(amqp.getHandlerStats()['FeatureHandlers.onOptOutRequeue']?.handled).toBe(0);
    } else {
      await waitFor(() => amqp.getHandlerStats()['FeatureHandlers.onOptOutRequeue']?.handled === 1, 'the message handled after its requeues', 20_000);
      expect(handlers.optOutRequeues).toBe(REQUEUES_ON_3X + 1);
    }
    expect(await admin.queueExists(`${optOutRequeueQ}.dlq`)).toBe(false);
  }, 30_000);

  it('keeps every warren-* header through a wait queue’s TTL dead-lettering, a requeue and the dead-letter queue', async () => {
    await amqp.publish(exchange, 'journey', { n: 1 }, { messageId: 'journey-1', headers: { tenant: 't1' } });
    await waitFor(async () => (await admin.messageCount(`${journeyQ}.dlq`)) === 1, 'the message in the dead-letter queue after its attempts', 20_000);
    const [first, retried, requeued, last] = handlers.journey;
    expect(handlers.journey).toHaveLength(4);
    expect(first.attempt).toBeUndefined();
    // Back from the wait queue (the broker dead-lettered it on TTL expiry, adding x-death): Warren's headers intact.
    for (const step of [retried, requeued]) {
      expect(step.attempt).toBe(2);
      expect(step.headers).toMatchObject({
        tenant: 't1',
        [WARREN_HEADERS.originalExchange]: exchange,
        [WARREN_HEADERS.originalRoutingKey]: 'journey',
        [WARREN_HEADERS.originalQueue]: journeyQ,
        'warren-first-failure-at': expect.any(String),
        'warren-last-error': expect.stringContaining('journey step 1 fails'),
      });
      expect(Array.isArray(step.headers['x-death'])).toBe(true);
    }
    expect([retried.redelivered, requeued.redelivered]).toEqual([false, true]);
    expect(last.attempt).toBe(3);
    const [dead] = await app.get(DeadLetterService).peek(`${journeyQ}.dlq`);
    expect(dead.reason).toMatchObject({
      errorName: 'Error',
      errorMessage: 'journey step 4 fails',
      handler: 'FeatureHandlers.onJourney',
      attempts: 3,
      exchange,
      routingKey: 'journey',
      queue: journeyQ,
    });
    expect(dead.headers).toMatchObject({ tenant: 't1', [WARREN_HEADERS.attempt]: 3 });
    expect(dead.messageId).toBe('journey-1');
  }, 30_000);

  it('declares a quorum queue with maxPriority on every version; 4.x delivers priority 5+ first, 3.x in order', async () => {
    for (let i = 0; i < 5; i++) await amqp.publish('', priorityQ, { n: `low${i}` }, { priority: 1 });
    await amqp.publish('', priorityQ, { n: 'high' }, { priority: 9 });
    await waitFor(async () => (await admin.messageCount(priorityQ)) === 6, 'six messages in the priority queue');
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      const message = await admin.get(priorityQ);
      if (message) order.push((JSON.parse(message.content.toString()) as { n: string }).n);
    }
    const fifo = ['low0', 'low1', 'low2', 'low3', 'low4', 'high'];
    expect(order).toEqual(version.major >= 4 ? ['high', ...fifo.slice(0, 5)] : fifo);
    expect(warned(`queue '${priorityQ}': quorum queues have message priorities from RabbitMQ 4.0`)).toBe(version.major < 4);
  });

  it('closes a consumer that holds a delivery past queueOptions.consumerTimeout; Warren consumes again and gets it redelivered (3.12+)', async () => {
    if (version.major === 3 && version.minor < 12) {
      // 3.10 and 3.11 ignore x-consumer-timeout: the queue declares, and Warren says so once.
      expect(warned(`queue '${timeoutQ}': consumerTimeout needs RabbitMQ 3.12`)).toBe(true);
      return;
    }
    expect(warned(`queue '${timeoutQ}'`)).toBe(false);
    await amqp.publish(exchange, 'timeout', { n: 1 });
    // The broker checks consumer timeouts on its channel tick (once a minute by default).
    await waitFor(() => handlers.timeoutDeliveries.length === 2, 'the held delivery redelivered after the consumer timeout', 100_000, 200);
    expect(handlers.timeoutDeliveries).toEqual([false, true]);
    handlers.releaseHeld?.();
    await waitFor(async () => (await admin.messageCount(timeoutQ)) === 0 && (await admin.consumerCount(timeoutQ)) === 1, 'the queue empty and consumed again');
    expect(amqp.getHandlerStats()['FeatureHandlers.onTimeout']?.handled).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('refuses a bad consumerTimeout or maxPriority at start-up with one InvalidOptionsError naming the queue or handler', async () => {
    const badQueue = uniqueName('features.bad-queue');
    const moduleError = (await bootExpectingFailure({
      imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, queues: [{ name: badQueue, consumerTimeout: -5, maxPriority: 300 }] })],
    })) as InvalidOptionsError;
    expect(moduleError).toBeInstanceOf(InvalidOptionsError);
    expect(moduleError.problems).toEqual([
      expect.stringContaining(`queues: '${badQueue}': queueOptions.consumerTimeout must be a positive integer of ms (got -5)`),
      expect.stringContaining(`queues: '${badQueue}': queueOptions.maxPriority must be an integer 1..255 (got 300)`),
    ]);

    @Injectable()
    class BadHandler {
      @RabbitSubscribe({ queue: badQueue, queueOptions: { consumerTimeout: 2.5 } })
      handle(): void {}
    }
    const handlerError = (await bootExpectingFailure({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL })], providers: [BadHandler] })) as InvalidOptionsError;
    expect(handlerError).toBeInstanceOf(InvalidOptionsError);
    expect(handlerError.problems).toEqual([
      expect.stringContaining('BadHandler.handle: queueOptions.consumerTimeout must be a positive integer of ms (got 2.5)'),
    ]);
    expect(await admin.queueExists(badQueue)).toBe(false);
  });
});
