import { Injectable, type INestApplicationContext } from '@nestjs/common';
import {
  AmqpConnection,
  DeadLetterService,
  MessageEncodingError,
  PublishFailedError,
  RabbitMQModule,
  RabbitRPC,
  RabbitSubscribe,
  WARREN_HEADERS,
  WarrenError,
  type PublishOptions,
  type Serializer,
} from '@warren/rabbitmq';
import { CapturingLogger, createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, rabbitmqctl, uniqueName, waitFor } from './support/broker';

/**
 * One bad publish or request among good ones: the bad one fails alone, at once, with a
 * typed error; the good ones are delivered exactly once and no channel carrying them is
 * reopened.
 */
const connectionName = uniqueName('isolation.app');
const exchange = uniqueName('isolation.x');
const internalExchange = uniqueName('isolation.internal');
const queue = uniqueName('isolation.q');
const rpcQueue = uniqueName('isolation.rpc');
const GOOD = 1000;

@Injectable()
class Counter {
  readonly seen = new Map<string, number>();

  @RabbitSubscribe({ exchange, routingKey: 'good', queue, prefetch: 100 })
  handle(message: { id: string }): void {
    this.seen.set(message.id, (this.seen.get(message.id) ?? 0) + 1);
  }

  @RabbitRPC({ exchange, routingKey: 'slow', queue: rpcQueue, prefetch: 50 })
  async slow(message: { n: number }): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, 200));
    return message.n * 2;
  }
}

/** The app's channels on the broker, by channel process: a reopened channel has a new pid. */
async function channelPids(): Promise<Set<string>> {
  const connections = await rabbitmqctl('list_connections', '-q', '--no-table-headers', 'pid', 'client_properties');
  const pid = connections
    .split('\n')
    .find((line) => line.includes(`"${connectionName}"`))
    ?.split('\t')[0]
    .trim();
  const channels = await rabbitmqctl('list_channels', '-q', '--no-table-headers', 'pid', 'connection');
  return new Set(
    channels
      .split('\n')
      .map((line) => line.split('\t').map((part) => part.trim()))
      .filter(([, connection]) => connection === pid)
      .map(([channel]) => channel),
  );
}

function difference(a: Set<string>, b: Set<string>): string[] {
  return [...a].filter((item) => !b.has(item));
}

describe('one bad message among good ones', () => {
  let admin: BrokerAdmin;
  let app: INestApplicationContext;
  let amqp: AmqpConnection;
  let counter: Counter;
  let batch = 0;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('queue', queue, rpcQueue);
    admin.track('exchange', exchange, internalExchange);
    await admin.raw((ch) => ch.assertExchange(internalExchange, 'topic', { durable: false, internal: true }));
    app = await createApp(
      {
        imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName, exchanges: [{ name: exchange, type: 'topic' }] })],
        providers: [Counter],
      },
      new CapturingLogger(),
    );
    amqp = app.get(AmqpConnection);
    counter = app.get(Counter);
    // Both kinds of publish this suite makes are known to the broker before the figures are taken.
    await amqp.publish(exchange, 'good', { id: 'warm-up' });
    await waitFor(() => counter.seen.has('warm-up'), 'the warm-up message');
  });

  afterAll(async () => {
    await app?.close();
    await admin?.close();
  });

  /** Publishes GOOD good messages around `bad()`, all in flight together; returns the bad outcomes with their time to reject. */
  async function amidGoodTraffic(bad: Array<() => Promise<unknown>>): Promise<{ errors: unknown[]; elapsed: number[]; ids: string[] }> {
    const tag = `b${++batch}`;
    const ids = Array.from({ length: GOOD }, (_, i) => `${tag}.${i}`);
    const good: Array<Promise<void>> = [];
    const errors: unknown[] = [];
    const elapsed: number[] = [];
    const outcomes: Array<Promise<void>> = [];
    ids.forEach((id, i) => {
      good.push(amqp.publish(exchange, 'good', { id }));
      if (i === GOOD / 2) {
        for (const [index, fn] of bad.entries()) {
          const started = Date.now();
          outcomes.push(
            fn().then(
              () => {
                errors[index] = undefined;
                elapsed[index] = Date.now() - started;
              },
              (error: unknown) => {
                errors[index] = error;
                elapsed[index] = Date.now() - started;
              },
            ),
          );
        }
      }
    });
    await Promise.all(outcomes);
    await Promise.all(good);
    await waitFor(() => ids.every((id) => counter.seen.has(id)), `all ${GOOD} good messages of ${tag} handled`);
    await waitFor(async () => (await admin.messageCount(queue)) === 0, 'the queue drained');
    return { errors, elapsed, ids };
  }

  function expectExactlyOnce(ids: string[]): void {
    const wrong = ids.filter((id) => counter.seen.get(id) !== 1);
    expect(wrong).toEqual([]);
  }

  it('rejects what cannot be encoded at once, naming the field, and touches no other publish or channel', async () => {
    const before = await channelPids();
    const stringSerializer: Serializer = { contentType: 'text/plain', serialize: (v) => String(v) as unknown as Buffer, deserialize: (b) => b };
    const cases: Array<[string, PublishOptions & { routingKey?: string; exchange?: string }]> = [
      ['headers.big', { headers: { big: BigInt(7) } }],
      ['headers.sym', { headers: { sym: Symbol('s') } }],
      ['headers.fn', { headers: { fn: () => 1 } }],
      ['headers.nan', { headers: { nan: Number.NaN } }],
      ['priority', { priority: 300 }],
      ['messageId', { messageId: 'm'.repeat(300) }],
      ['routingKey', { routingKey: 'k'.repeat(300) }],
      ['exchange', { exchange: 'x'.repeat(300) }],
      ['expiration', { expiration: 'soon' }],
      ['body', { serializer: stringSerializer }],
    ];
    const { errors, elapsed, ids } = await amidGoodTraffic(
      cases.map(
        ([, { routingKey, exchange: target, ...options }]) =>
          () =>
            amqp.publish(target ?? exchange, routingKey ?? 'good', { id: 'bad' }, options),
      ),
    );
    cases.forEach(([field], i) => {
      expect(errors[i]).toBeInstanceOf(MessageEncodingError);
      expect(errors[i]).toMatchObject({ code: 'MESSAGE_ENCODING', field });
      // Rejected before anything is written; the figure includes waiting for the 500 publishes
      // queued after it in the same tick (test/faults/11-bad-input-* measures it alone: ~1–3 ms).
      expect(elapsed[i]).toBeLessThan(1000);
    });
    expectExactlyOnce(ids);
    expect(counter.seen.has('bad')).toBe(false);
    expect(difference(before, await channelPids())).toEqual([]);
  });

  it('fails a publish the broker refuses with its reply code, alone: good ones exactly once, their channel not reopened', async () => {
    const before = await channelPids();
    const { errors, elapsed, ids } = await amidGoodTraffic([
      () => amqp.publish(exchange, 'good', { id: 'bad-user' }, { userId: 'someone-else' }),
      () => amqp.publish(internalExchange, 'good', { id: 'bad-internal' }),
      () => amqp.publish(uniqueName('isolation.missing'), 'good', { id: 'bad-missing' }),
    ]);
    expect(errors[0]).toBeInstanceOf(PublishFailedError);
    expect(errors[0]).toMatchObject({ replyCode: 406, sent: true });
    expect(errors[1]).toMatchObject({ name: 'PublishFailedError', replyCode: 403 });
    expect(errors[2]).toMatchObject({ name: 'PublishFailedError', replyCode: 404, code: 'EXCHANGE_NOT_FOUND' });
    for (const ms of elapsed) expect(ms).toBeLessThan(1000);
    expectExactlyOnce(ids);
    expect(counter.seen.has('bad-user')).toBe(false);
    // Only the probe channel, which carried nothing but the refused publishes, was replaced.
    expect(difference(before, await channelPids()).length).toBeLessThanOrEqual(1);
  });

  it('keeps a dead letter without messageId in its queue when its replay is not routed', async () => {
    const dlq = uniqueName('isolation.dlq');
    const gone = uniqueName('isolation.gone');
    admin.track('queue', dlq);
    await admin.raw(async (ch) => {
      await ch.assertQueue(dlq, { durable: true });
      ch.sendToQueue(dlq, Buffer.from('{"lost":false}'), {
        contentType: 'application/json',
        headers: { 'warren-dead-error-name': 'Error', [WARREN_HEADERS.originalQueue]: gone },
      });
    });
    await waitFor(async () => (await admin.messageCount(dlq)) === 1, 'the dead letter');
    const result = await app.get(DeadLetterService).replay(dlq);
    expect(result).toMatchObject({ replayed: 0, kept: 1 });
    expect(result.failed[0].error).toMatch(/No queue is bound|NO_ROUTE/);
    await waitFor(async () => (await admin.messageCount(dlq)) === 1, 'the dead letter still there');
  });

  it('fails a bad request alone: 20 calls in flight to a slow handler all get their replies', async () => {
    const calls = Array.from({ length: 20 }, (_, n) => amqp.request<number>({ exchange, routingKey: 'slow', payload: { n }, timeout: 10_000 }));
    const started = Date.now();
    const missing = await amqp.request({ exchange: uniqueName('isolation.nowhere'), routingKey: 'slow', payload: {}, timeout: 5_000 }).catch((e: unknown) => e);
    const missingMs = Date.now() - started;
    const invalid = await amqp
      .request({ exchange, routingKey: 'slow', payload: {}, timeout: 5_000, publishOptions: { priority: 999 } })
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(PublishFailedError);
    expect(missing).toMatchObject({ replyCode: 404 });
    expect(missingMs).toBeLessThan(1000);
    expect(invalid).toBeInstanceOf(MessageEncodingError);
    expect(invalid).toMatchObject({ field: 'priority' });
    await expect(Promise.all(calls)).resolves.toEqual(Array.from({ length: 20 }, (_, n) => n * 2));
    // And the shared channel still serves calls.
    await expect(amqp.request({ exchange, routingKey: 'slow', payload: { n: 21 } })).resolves.toBe(42);
    expect(missing).toBeInstanceOf(WarrenError);
  });
});
