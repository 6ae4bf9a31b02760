import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { AmqpConnection, DeadLetterService, Nack, RabbitMQModule, RabbitSubscribe, WARREN_HEADERS } from '@warren/rabbitmq';
import type { ConsumeMessage } from 'amqplib';
import { createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, brokerMajorVersion, uniqueName, waitFor } from './support/broker';

/**
 * Quorum queues on RabbitMQ 3.x and 4.x. From 4.0 a quorum queue declared without
 * `x-delivery-limit` gets a limit of 20: the 21st delivery of a message is dead-lettered (or dropped,
 * without a dead-letter exchange) instead. Every requeue counts, whether or not a handler ran.
 * These run on both versions (`npm test` and `npm run test:rabbitmq4`).
 */
const exchange = uniqueName('versions.x');
const manyRetriesQueue = uniqueName('versions.many-retries');
const requeueQueue = uniqueName('versions.requeue');
const MANY_ATTEMPTS = 30;
/** More requeues than RabbitMQ 4's default delivery limit (20) allows. */
const REQUEUES_PAST_DEFAULT_LIMIT = 25;

@Injectable()
class QuorumHandlers {
  readonly attempts: unknown[] = [];
  readonly redelivered: boolean[] = [];
  requeues = 0;

  @RabbitSubscribe({
    exchange,
    routingKey: 'many',
    queue: manyRetriesQueue,
    queueOptions: { type: 'quorum' },
    retry: { maxAttempts: MANY_ATTEMPTS, backoff: { type: 'fixed', delay: 20 } },
  })
  onMany(_payload: unknown, message: ConsumeMessage, headers: Record<string, unknown>): void {
    this.attempts.push(headers[WARREN_HEADERS.attempt]);
    this.redelivered.push(message.fields.redelivered);
    if (this.attempts.length < MANY_ATTEMPTS) throw new Error(`attempt ${this.attempts.length} fails`);
  }

  @RabbitSubscribe({ exchange, routingKey: 'requeue', queue: requeueQueue, queueOptions: { type: 'quorum' }, deadLetter: true })
  onRequeue(): Nack | void {
    // Past RabbitMQ 4's default limit the broker has dead-lettered it; on 3.x it would loop forever, so stop.
    if (++this.requeues <= REQUEUES_PAST_DEFAULT_LIMIT) return new Nack(true);
  }
}

describe('quorum queues across broker versions', () => {
  let app: INestApplicationContext;
  let admin: BrokerAdmin;
  let amqp: AmqpConnection;
  let handlers: QuorumHandlers;
  let major: number;

  beforeAll(async () => {
    major = await brokerMajorVersion();
    admin = await BrokerAdmin.connect();
    admin.track('queue', manyRetriesQueue, requeueQueue, `${manyRetriesQueue}.dlq`, `${requeueQueue}.dlq`);
    admin.track('exchange', exchange);
    app = await createApp({
      imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, exchanges: [{ name: exchange, type: 'topic' }] })],
      providers: [QuorumHandlers],
    });
    handlers = app.get(QuorumHandlers);
    amqp = app.get(AmqpConnection);
  });

  afterAll(async () => {
    await app?.close();
    await admin?.close();
  });

  it(`gives a handler with retry.maxAttempts ${MANY_ATTEMPTS} on a quorum queue all its attempts, past RabbitMQ 4's default delivery limit`, async () => {
    await amqp.publish(exchange, 'many', { n: 1 });
    await waitFor(() => amqp.getHandlerStats()['QuorumHandlers.onMany']?.handled === 1, `the message handled on attempt ${MANY_ATTEMPTS}`, 30_000);
    expect(handlers.attempts).toHaveLength(MANY_ATTEMPTS);
    expect(handlers.attempts.at(-1)).toBe(MANY_ATTEMPTS);
    // Each retry is a new message (published to a wait queue, the failed delivery acked): none is a redelivery.
    expect(handlers.redelivered.every((r) => !r)).toBe(true);
    expect(await admin.messageCount(`${manyRetriesQueue}.dlq`)).toBe(0);
  }, 40_000);

  it('dead-letters a message requeued past the default delivery limit into the handler queue’s dead-letter queue on 4.x (3.x has no default limit)', async () => {
    await amqp.publish(exchange, 'requeue', { n: 1 });
    if (major >= 4) {
      await waitFor(async () => (await admin.messageCount(`${requeueQueue}.dlq`)) === 1, 'the message dead-lettered by the delivery limit', 20_000);
      expect(handlers.requeues).toBe(21);
      const [dead] = await app.get(DeadLetterService).peek(`${requeueQueue}.dlq`);
      expect(dead.reason.errorName).toBe('BrokerDeadLetter');
      expect(dead.reason.errorMessage).toContain('delivery limit');
    } else {
      await waitFor(() => amqp.getHandlerStats()['QuorumHandlers.onRequeue']?.handled === 1, 'the message handled after its requeues', 20_000);
      expect(handlers.requeues).toBe(REQUEUES_PAST_DEFAULT_LIMIT + 1);
      expect(await admin.messageCount(`${requeueQueue}.dlq`)).toBe(0);
    }
  }, 30_000);
});
