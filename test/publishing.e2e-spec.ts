import type { INestApplicationContext } from '@nestjs/common';
import {
  AmqpConnection,
  MessageTooLargeError,
  PublishFailedError,
  PublishNackedError,
  RabbitMQModule,
  UnroutableMessageError,
  type BatchMessage,
  type Serializer,
} from '@warren/rabbitmq';
import type { GetMessage } from 'amqplib';
import { CapturingLogger, createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, uniqueName, waitFor } from './support/broker';

const exchange = uniqueName('pub.x');
const queue = uniqueName('pub.q');
const batchQ = uniqueName('pub.batch');
const fullQ = uniqueName('pub.full');
const serializerQ = uniqueName('pub.serializer');
const MAX_SIZE = 64 * 1024;

/** Prefixes its JSON so a test can tell which serializer wrote a body. */
function taggedSerializer(tag: string, contentType: string): Serializer {
  return {
    contentType,
    serialize: (value) => Buffer.from(`${tag}:${JSON.stringify(value)}`),
    deserialize: (body) => JSON.parse(body.toString().slice(tag.length + 1)),
  };
}

describe('publishing', () => {
  let admin: BrokerAdmin;
  let app: INestApplicationContext;
  let amqp: AmqpConnection;

  /** Takes the next message off `q`, failing if there is none. */
  async function take(q: string): Promise<GetMessage> {
    return waitFor(() => admin.get(q), `a message on ${q}`, 5000);
  }

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('queue', queue, batchQ, fullQ, serializerQ);
    admin.track('exchange', exchange);
    app = await createApp(
      {
        imports: [
          RabbitMQModule.forRoot({
            uri: AMQP_URL,
            appId: 'warren-e2e',
            maxMessageSize: MAX_SIZE,
            exchanges: [{ name: exchange, type: 'direct' }],
            queues: [
              { name: queue, bindings: [{ exchange, routingKey: 'routed' }] },
              { name: batchQ, bindings: [{ exchange, routingKey: 'batch' }] },
              { name: fullQ, maxLength: 1, overflow: 'reject-publish' },
              { name: serializerQ },
            ],
          }),
        ],
      },
      new CapturingLogger(),
    );
    amqp = app.get(AmqpConnection);
  });

  afterAll(async () => {
    await app?.close();
    await admin?.close();
  });

  it('resolves only once the broker has the message (publisher confirms)', async () => {
    await Promise.all(Array.from({ length: 100 }, (_, i) => amqp.publish(exchange, 'routed', { i })));
    // No polling: a confirmed message is already enqueued when the promise resolves.
    expect(await admin.messageCount(queue)).toBe(100);
    await admin.raw((ch) => ch.purgeQueue(queue));
  });

  it('publishes persistent messages with messageId, timestamp, contentType and appId by default', async () => {
    const before = Date.now();
    await amqp.publish(exchange, 'routed', { hello: 'world' });
    await amqp.publish(exchange, 'routed', { hello: 'again' });
    const first = await take(queue);
    const second = await take(queue);
    expect(JSON.parse(first.content.toString())).toEqual({ hello: 'world' });
    expect(first.properties.deliveryMode).toBe(2);
    expect(first.properties.contentType).toBe('application/json');
    expect(first.properties.appId).toBe('warren-e2e');
    expect(typeof first.properties.messageId).toBe('string');
    expect(first.properties.messageId.length).toBeGreaterThan(0);
    expect(second.properties.messageId).not.toBe(first.properties.messageId);
    expect(Number(first.properties.timestamp)).toBeGreaterThanOrEqual(before - 1000);
    expect(Number(first.properties.timestamp)).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('lets one publish override the defaults (persistent, messageId)', async () => {
    await amqp.publish(exchange, 'routed', { n: 1 }, { persistent: false, messageId: 'my-id' });
    const message = await take(queue);
    expect(message.properties.deliveryMode).not.toBe(2);
    expect(message.properties.messageId).toBe('my-id');
  });

  it('passes Buffers through untouched', async () => {
    const bytes = Buffer.from([0, 1, 2, 0x7b, 0xff, 0xfe]);
    await amqp.publish(exchange, 'routed', bytes);
    const message = await take(queue);
    expect(Buffer.compare(message.content, bytes)).toBe(0);
  });

  it('uses a serializer given for one publish', async () => {
    await amqp.publish('', serializerQ, { a: 1 }, { serializer: taggedSerializer('CALL', 'application/x-call') });
    const message = await take(serializerQ);
    expect(message.content.toString()).toBe('CALL:{"a":1}');
    expect(message.properties.contentType).toBe('application/x-call');
  });

  it('uses the module-wide serializer', async () => {
    const other = await createApp(
      { imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, serializer: taggedSerializer('MODULE', 'application/x-module') })] },
      new CapturingLogger(),
    );
    try {
      await other.get(AmqpConnection).publish('', serializerQ, { b: 2 });
      const message = await take(serializerQ);
      expect(message.content.toString()).toBe('MODULE:{"b":2}');
      expect(message.properties.contentType).toBe('application/x-module');
    } finally {
      await other.close();
    }
  });

  it('rejects a mandatory publish nobody can receive with UnroutableMessageError', async () => {
    const error = (await amqp.publish(exchange, 'nobody.listens', { x: 1 }).catch((e: unknown) => e)) as UnroutableMessageError;
    expect(error).toBeInstanceOf(UnroutableMessageError);
    expect(error.code).toBe('UNROUTABLE');
    expect(error.exchange).toBe(exchange);
    expect(error.routingKey).toBe('nobody.listens');
  });

  it('resolves an unroutable publish with mandatory: false', async () => {
    await expect(amqp.publish(exchange, 'nobody.listens', { x: 1 }, { mandatory: false })).resolves.toBeUndefined();
  });

  it('rejects a publish to a missing exchange with PublishFailedError, and the next publish still works', async () => {
    const missing = uniqueName('pub.missing');
    const error = (await amqp.publish(missing, 'k', { x: 1 }, { timeout: 5000 }).catch((e: unknown) => e)) as PublishFailedError;
    expect(error).toBeInstanceOf(PublishFailedError);
    expect(error.code).toBe('EXCHANGE_NOT_FOUND');
    expect(error.exchange).toBe(missing);
    expect(error.message).toContain(missing);
    await amqp.publish(exchange, 'routed', { after: 'failure' }, { timeout: 5000 });
    const message = await take(queue);
    expect(JSON.parse(message.content.toString())).toEqual({ after: 'failure' });
  });

  it('fails only the publish to a missing exchange when others are in flight on the same channel', async () => {
    const missing = uniqueName('pub.missing');
    const good = (i: number) => amqp.publish(exchange, 'batch', { i }, { timeout: 5000 });
    const results = await Promise.allSettled([
      ...Array.from({ length: 20 }, (_, i) => good(i)),
      amqp.publish(missing, 'k', { bad: true }, { timeout: 5000 }),
      ...Array.from({ length: 20 }, (_, i) => good(20 + i)),
    ]);
    const rejected = results.map((r, i) => [r, i] as const).filter(([r]) => r.status === 'rejected');
    expect(rejected.map(([, i]) => i)).toEqual([20]);
    expect((rejected[0][0] as PromiseRejectedResult).reason).toBeInstanceOf(PublishFailedError);
    // At least once: messages cut off by the channel close are re-sent, none lost.
    const seen = new Set<number>();
    for (let m = await admin.get(batchQ); m; m = await admin.get(batchQ)) seen.add((JSON.parse(m.content.toString()) as { i: number }).i);
    expect(seen.size).toBe(40);
  });

  it('rejects a message larger than maxMessageSize before sending it', async () => {
    const started = Date.now();
    const error = (await amqp.publish(exchange, 'routed', 'x'.repeat(MAX_SIZE + 1)).catch((e: unknown) => e)) as MessageTooLargeError;
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect(error.maxSize).toBe(MAX_SIZE);
    expect(error.size).toBeGreaterThan(MAX_SIZE);
    expect(Date.now() - started).toBeLessThan(100);
    expect(await admin.messageCount(queue)).toBe(0);
    // Exactly the limit is fine (a JSON string of n characters is n + 2 bytes).
    await amqp.publish(exchange, 'routed', 'x'.repeat(MAX_SIZE - 2));
    expect(await admin.messageCount(queue)).toBe(1);
    await admin.raw((ch) => ch.purgeQueue(queue));
  });

  it('confirms a batch of 500 messages', async () => {
    const messages: BatchMessage[] = Array.from({ length: 500 }, (_, i) => ({ exchange, routingKey: 'batch', message: { i } }));
    const result = await amqp.publishBatch(messages);
    expect(result).toEqual({ confirmed: 500, failed: [] });
    expect(await admin.messageCount(batchQ)).toBe(500);
    await admin.raw((ch) => ch.purgeQueue(batchQ));
  });

  it('reports exactly which messages of a batch failed', async () => {
    const bad = new Set([3, 17, 250, 499]);
    const messages: BatchMessage[] = Array.from({ length: 500 }, (_, i) => ({
      exchange,
      routingKey: bad.has(i) ? `unbound.${i}` : 'batch',
      message: { i },
    }));
    const result = await amqp.publishBatch(messages);
    expect(result.confirmed).toBe(496);
    expect(result.failed.map((f) => f.index)).toEqual([3, 17, 250, 499]);
    for (const failure of result.failed) {
      expect(failure.error).toBeInstanceOf(UnroutableMessageError);
      expect((failure.error as UnroutableMessageError).routingKey).toBe(`unbound.${failure.index}`);
    }
    expect(await admin.messageCount(batchQ)).toBe(496);
  });

  it('rejects with PublishNackedError when the broker refuses the message (full queue, reject-publish)', async () => {
    await amqp.publish('', fullQ, { first: true });
    const error = (await amqp.publish('', fullQ, { second: true }).catch((e: unknown) => e)) as PublishNackedError;
    expect(error).toBeInstanceOf(PublishNackedError);
    expect(error.code).toBe('PUBLISH_NACKED');
    expect(error.routingKey).toBe(fullQ);
    expect(await admin.messageCount(fullQ)).toBe(1);
    // The connection is still usable afterwards.
    await amqp.publish(exchange, 'routed', { still: 'works' });
    expect(await admin.messageCount(queue)).toBe(1);
  });
});
