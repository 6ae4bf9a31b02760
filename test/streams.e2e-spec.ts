import { Injectable, type INestApplicationContext } from '@nestjs/common';
import {
  AmqpConnection,
  InvalidOptionsError,
  MemoryStreamOffsetStore,
  RabbitMQModule,
  RabbitSubscribe,
  type RabbitHandlerConfig,
  type StreamConsumeOptions,
} from '@warren/rabbitmq';
import { RedisStreamOffsetStore } from '@warren/rabbitmq/redis';
import { Redis } from 'ioredis';
import { bootExpectingFailure, createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, brokerNow, closeConnectionsNamed, REDIS_URL, uniqueName, waitFor } from './support/broker';

/** Sequence numbers each reader handled, in the order it handled them. */
type Reads = Map<string, number[]>;

function readerModule(
  exchange: string,
  queue: string,
  reads: Reads,
  readers: Record<string, StreamConsumeOptions>,
  prefetch = 50,
  connectionName = uniqueName('stream-app'),
  extra: Partial<RabbitHandlerConfig> = {},
) {
  const providers = Object.entries(readers).map(([label, stream]) => {
    @Injectable()
    class Reader {
      @RabbitSubscribe({ exchange, routingKey: 'event', queue, queueOptions: { type: 'stream' }, prefetch, stream, name: label, ...extra })
      read(event: { seq: number }): void {
        const list = reads.get(label) ?? [];
        list.push(event.seq);
        reads.set(label, list);
      }
    }
    return Reader;
  });
  return {
    imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName, exchanges: [{ name: exchange, type: 'direct' }] })],
    providers,
  };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('stream queues read from an offset', () => {
  let admin: BrokerAdmin;
  let redis: Redis;
  const exchange = uniqueName('streams.x');
  const apps: INestApplicationContext[] = [];
  const redisPrefix = `${uniqueName('stream-offsets')}:`;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange);
    redis = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    const keys = await redis.keys(`${redisPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await admin?.close();
  });

  async function boot(module: ReturnType<typeof readerModule>): Promise<INestApplicationContext> {
    const app = await createApp(module);
    apps.push(app);
    return app;
  }

  async function close(app: INestApplicationContext): Promise<void> {
    apps.splice(apps.indexOf(app), 1);
    await app.close();
  }

  async function publish(amqp: AmqpConnection, seqs: number[]): Promise<void> {
    const result = await amqp.publishBatch(seqs.map((seq) => ({ exchange, routingKey: 'event', message: { seq } })));
    expect(result.failed).toEqual([]);
  }

  it("independent readers: 'first' reads the whole log, 'next' only what comes after, a numeric offset from there", async () => {
    const queue = uniqueName('streams.readers');
    admin.track('queue', queue);
    const reads: Reads = new Map();
    // Declares the stream and binds it; reads from the start.
    const early = await boot(readerModule(exchange, queue, reads, { fromFirst: { offset: 'first' } }));
    const amqp = early.get(AmqpConnection);
    await publish(amqp, range(0, 300));
    await waitFor(() => reads.get('fromFirst')?.length === 300, 'the first reader caught up');
    await boot(readerModule(exchange, queue, reads, { fromNext: { offset: 'next' }, fromOffset: { offset: 100 }, alsoFirst: { offset: 'first' } }));
    await publish(amqp, range(300, 400));
    await waitFor(
      () =>
        reads.get('fromFirst')?.length === 400 &&
        reads.get('alsoFirst')?.length === 400 &&
        reads.get('fromOffset')?.length === 300 &&
        reads.get('fromNext')?.length === 100,
      'every reader at the end',
    );
    expect(reads.get('fromFirst')).toEqual(range(0, 400));
    expect(reads.get('alsoFirst')).toEqual(range(0, 400));
    // Offsets count from 0 in a fresh stream: offset 100 is the message published 101st.
    expect(reads.get('fromOffset')).toEqual(range(100, 400));
    expect(reads.get('fromNext')).toEqual(range(300, 400));
  });

  it('replays from a point in time', async () => {
    const queue = uniqueName('streams.time');
    admin.track('queue', queue);
    const reads: Reads = new Map();
    const writer = await boot(readerModule(exchange, queue, reads, { tail: { offset: 'next' } }));
    const amqp = writer.get(AmqpConnection);
    await publish(amqp, range(0, 200));
    // Stream timestamps are in whole seconds: leave a clear second between the two batches. The
    // point in time is read on the broker, whose clock stamps the chunks (it may differ from ours).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const since = new Date(await brokerNow());
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await publish(amqp, range(200, 300));
    await waitFor(() => reads.get('tail')?.length === 300, 'the tail reader saw everything');
    await boot(readerModule(exchange, queue, reads, { replay: { offset: since } }));
    await waitFor(() => reads.get('replay')?.length === 100, 'the replay read the second batch');
    expect(reads.get('replay')).toEqual(range(200, 300));
  });

  it('a restarted reader resumes right after the last message it handled (Redis store), without a gap or a re-read', async () => {
    const queue = uniqueName('streams.resume');
    admin.track('queue', queue);
    const reads: Reads = new Map();
    const store = new RedisStreamOffsetStore({ url: REDIS_URL, keyPrefix: redisPrefix });
    const options = { billing: { offset: 'first' as const, store } };
    const first = await boot(readerModule(exchange, queue, reads, options, 20));
    const publisher = await boot(readerModule(exchange, queue, new Map(), {}));
    await publish(publisher.get(AmqpConnection), range(0, 2000));
    await waitFor(() => (reads.get('billing')?.length ?? 0) >= 700, 'the reader is under way');
    await close(first);
    const before = reads.get('billing')!.length;
    expect(before).toBeLessThan(2000);
    expect(Number(await redis.get(`${redisPrefix}billing`))).toBe(before - 1);
    await boot(readerModule(exchange, queue, reads, options, 20));
    await waitFor(() => reads.get('billing')?.length === 2000, 'the restarted reader caught up', 20_000);
    expect(reads.get('billing')).toEqual(range(0, 2000));
    await store.close();
  });

  it('keeps the position across a reconnect without a store', async () => {
    const queue = uniqueName('streams.reconnect');
    admin.track('queue', queue);
    const reads: Reads = new Map();
    const connectionName = uniqueName('stream-reconnect');
    const app = await boot(readerModule(exchange, queue, reads, { audit: { offset: 'first' } }, 50, connectionName));
    const amqp = app.get(AmqpConnection);
    await publish(amqp, range(0, 300));
    await waitFor(() => reads.get('audit')?.length === 300, 'read before the reconnect');
    expect(await closeConnectionsNamed(connectionName)).toBe(1);
    await waitFor(() => amqp.isConnected, 'connected again', 15_000);
    await publish(amqp, range(300, 400));
    await waitFor(() => (reads.get('audit')?.length ?? 0) >= 400, 'read after the reconnect', 15_000);
    // Resumed after message 299, not from 'first' again.
    expect(reads.get('audit')).toEqual(range(0, 400));
  });

  it('dead-letters a failing message and reads on past it', async () => {
    const queue = uniqueName('streams.poison');
    admin.track('queue', queue, `${queue}.dlq`);
    const handled: number[] = [];
    @Injectable()
    class Picky {
      @RabbitSubscribe({ exchange, routingKey: 'event', queue, queueOptions: { type: 'stream' }, stream: { offset: 'first' }, deadLetter: true })
      read(event: { seq: number }): void {
        if (event.seq === 5) throw new Error('cannot read event 5');
        handled.push(event.seq);
      }
    }
    const app = await boot({
      imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName: uniqueName('stream-poison'), exchanges: [{ name: exchange, type: 'direct' }] })],
      providers: [Picky],
    });
    await publish(app.get(AmqpConnection), range(0, 20));
    await waitFor(() => handled.length === 19, 'the others read');
    expect(handled).toEqual(range(0, 20).filter((n) => n !== 5));
    await waitFor(async () => (await admin.messageCount(`${queue}.dlq`)) === 1, 'the failing one dead-lettered');
  });

  it('does not start a reader before its stored position can be read', async () => {
    const queue = uniqueName('streams.store-down');
    admin.track('queue', queue);
    const reads: Reads = new Map();
    // A first reader declares and binds the stream.
    const publisher = await boot(readerModule(exchange, queue, new Map(), { tail: { offset: 'next' } }));
    await publish(publisher.get(AmqpConnection), range(0, 100));
    const inner = new MemoryStreamOffsetStore();
    await inner.save('ledger', 59);
    let failures = 0;
    const flaky = {
      load: (reader: string) => (failures++ < 2 ? Promise.reject(new Error('store down')) : inner.load(reader)),
      save: (reader: string, offset: number) => inner.save(reader, offset),
    };
    await boot(readerModule(exchange, queue, reads, { ledger: { offset: 'first', store: flaky } }));
    await waitFor(() => reads.get('ledger')?.length === 40, 'the reader caught up once the store answered', 20_000);
    expect(failures).toBeGreaterThanOrEqual(3);
    expect(reads.get('ledger')).toEqual(range(60, 100));
  });

  it('checks the stream options at start-up', async () => {
    const queue = uniqueName('streams.bad');
    admin.track('queue', queue);
    const error = await bootExpectingFailure(
      readerModule(exchange, queue, new Map(), { bad: { offset: 'yesterday' as 'first', store: {} as MemoryStreamOffsetStore, reader: '' } }, 50, undefined, {
        retry: { maxAttempts: 3 },
      }),
    );
    expect(error).toBeInstanceOf(InvalidOptionsError);
    const problems = (error as InvalidOptionsError).problems.join('\n');
    expect(problems).toContain("stream.offset must be 'first', 'last', 'next', a valid Date or an integer offset >= 0 (got yesterday)");
    expect(problems).toContain('stream.store must have load(reader) and save(reader, offset) methods');
    expect(problems).toContain('stream.reader must be a non-empty string');
    expect(problems).toContain('a stream reader cannot use delayed retry');
  });
});
