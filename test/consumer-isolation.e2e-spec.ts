import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import {
  AmqpConnection,
  DEAD_LETTER_HEADERS,
  JsonSerializer,
  RabbitMQModule,
  RabbitRPC,
  RabbitSubscribe,
  RpcRemoteError,
  type Serializer,
  type WarrenTelemetry,
} from '@warren/rabbitmq';
import { CapturingLogger, suiteApps } from './support/app';
import { AMQP_URL, closeConnectionsNamed, uniqueName, waitFor } from './support/broker';

/**
 * One bad message (a user hook that throws, a header of the wrong type) is settled on
 * its own and never holds a prefetch slot: the messages behind it keep flowing.
 */
const exchange = uniqueName('iso.x');
const Q = {
  dedupKey: uniqueName('iso.dedup-key'),
  rpc: uniqueName('iso.rpc'),
  rpcSerializer: uniqueName('iso.rpc-serializer'),
  shared: uniqueName('iso.shared'),
  late: uniqueName('iso.late'),
  traced: uniqueName('iso.traced'),
  tracedRpc: uniqueName('iso.traced-rpc'),
  stuck: uniqueName('iso.stuck'),
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Encodes nothing: every reply it is asked for throws. */
const refusingSerializer: Serializer = {
  contentType: 'application/json',
  serialize: () => {
    throw new Error('this serializer encodes nothing');
  },
  deserialize: (body) => new JsonSerializer().deserialize(body, 'application/json'),
};

class Gate {
  private release!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.release = resolve));
  open(): void {
    this.release();
  }
}

@Injectable()
class Handlers {
  readonly orders: string[] = [];
  readonly shared: Array<{ handler: string; payload: unknown }> = [];
  lateStarted = 0;
  lateGate = new Gate();

  @RabbitSubscribe({
    exchange,
    routingKey: Q.dedupKey,
    queue: Q.dedupKey,
    prefetch: 2,
    retry: { maxAttempts: 3, backoff: { type: 'fixed', delay: 100 } },
    dedup: { key: (m) => (m.payload as { orderId: string }).orderId },
  })
  pay(order: { orderId: string }): void {
    this.orders.push(order.orderId);
  }

  @RabbitRPC({ exchange, routingKey: 'iso.rpc.bigint-data', queue: Q.rpc, prefetch: 1 })
  bigintData(): never {
    throw Object.assign(new Error('limit exceeded'), { name: 'LimitError', code: 'LIMIT', data: { limit: 10n } });
  }

  @RabbitRPC({ exchange, routingKey: 'iso.rpc.circular', queue: Q.rpc })
  circular(): never {
    const thrown: Record<string, unknown> = { name: 'LoopError', message: 'refers to itself' };
    thrown.self = thrown;
    throw thrown;
  }

  @RabbitRPC({ exchange, routingKey: 'iso.rpc.rpc-exception', queue: Q.rpc })
  rpcException(): never {
    throw new RpcException({ message: 'no credit', amount: 5n });
  }

  @RabbitRPC({ exchange, routingKey: 'iso.rpc.bigint-reply', queue: Q.rpc })
  bigintReply(): unknown {
    return { total: 1n };
  }

  @RabbitRPC({ exchange, routingKey: 'iso.rpc.echo', queue: Q.rpc })
  echo(payload: unknown): unknown {
    return payload;
  }

  @RabbitRPC({ exchange, routingKey: 'iso.rpc.refused', queue: Q.rpcSerializer, prefetch: 1, serializer: refusingSerializer })
  refused(): unknown {
    return { ok: true };
  }

  @RabbitSubscribe({ exchange, routingKey: 'iso.shared.a.*', queue: Q.shared, prefetch: 2 })
  sharedA(payload: unknown): void {
    this.shared.push({ handler: 'a', payload });
  }

  @RabbitSubscribe({ exchange, routingKey: 'iso.shared.b', queue: Q.shared })
  sharedB(payload: unknown): void {
    this.shared.push({ handler: 'b', payload });
  }

  @RabbitSubscribe({ exchange, routingKey: Q.late, queue: Q.late, deadLetter: true })
  async late(): Promise<void> {
    this.lateStarted++;
    await this.lateGate.opened;
    throw new Error('failed after its channel closed');
  }
}

/** Every hook misbehaves in its own way; the publish and request hooks only once `brokenCallHooks` is set. */
let brokenCallHooks = false;
function brokenTelemetry(): WarrenTelemetry[] {
  return [
    {
      onConsume: () => {
        throw new Error('t1 consume hook broken');
      },
      onPublish: () => {
        if (brokenCallHooks) throw new Error('t1 publish hook broken');
      },
    },
    {
      onConsume: async (_info, next) => {
        await next();
        throw new Error('t2 consume hook broken after next');
      },
      onReply: () => {
        throw new Error('t2 reply hook broken');
      },
      onRequest: () =>
        brokenCallHooks
          ? () => {
              throw new Error('t2 request finisher broken');
            }
          : undefined,
    },
    {
      // Calls next twice: the delivery must still be handled and settled once.
      onConsume: async (_info, next) => {
        await next();
        return next();
      },
    },
  ];
}

@Injectable()
class Traced {
  readonly seen: number[] = [];

  @RabbitSubscribe({ exchange, routingKey: Q.traced, queue: Q.traced, prefetch: 1 })
  on(payload: { n: number }): void {
    this.seen.push(payload.n);
  }

  @RabbitRPC({ exchange, routingKey: Q.tracedRpc, queue: Q.tracedRpc, prefetch: 1 })
  double(payload: number): number {
    return payload * 2;
  }
}

@Injectable()
class Stuck {
  started = 0;

  @RabbitSubscribe({ exchange, routingKey: Q.stuck, queue: Q.stuck })
  async never(): Promise<void> {
    this.started++;
    await new Promise<void>(() => undefined);
  }
}

describe('consumer isolation: one bad message never stalls the others', () => {
  const suite = suiteApps();
  let app: INestApplicationContext;
  let amqp: AmqpConnection;
  let handlers: Handlers;
  const connectionName = uniqueName('iso-app');
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    suite.admin.track('exchange', exchange);
    suite.admin.track('queue', ...Object.values(Q), `${Q.dedupKey}.dlq`, `${Q.late}.dlq`);
    app = await suite.boot({
      imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName, exchanges: [{ name: exchange, type: 'topic' }] })],
      providers: [Handlers],
    });
    amqp = app.get(AmqpConnection);
    handlers = app.get(Handlers);
  });

  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  const request = (routingKey: string, payload?: unknown) => amqp.request({ exchange, routingKey, payload, timeout: 8000 });
  /** The error a request fails with, and how long it took. */
  async function failureOf(routingKey: string, payload?: unknown): Promise<{ error: unknown; ms: number }> {
    const started = Date.now();
    const error = await request(routingKey, payload).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { error, ms: Date.now() - started };
  }

  it('dead-letters, without retrying, a message whose dedup key() throws, and goes on with the others', async () => {
    // prefetch 2: three stuck deliveries would stop the consumer for good.
    for (let i = 0; i < 3; i++) await amqp.publish(exchange, Q.dedupKey, null);
    for (let i = 1; i <= 3; i++) await amqp.publish(exchange, Q.dedupKey, { orderId: `o${i}` });
    await waitFor(() => handlers.orders.length === 3, 'the three good orders', 10_000);
    await waitFor(async () => (await suite.admin.messageCount(`${Q.dedupKey}.dlq`)) === 3, 'three dead letters');
    const dead = await suite.admin.get(`${Q.dedupKey}.dlq`);
    const headers = (dead && dead.properties.headers) as Record<string, unknown>;
    expect(headers[DEAD_LETTER_HEADERS.errorName]).toBe('DedupKeyError');
    expect(String(headers[DEAD_LETTER_HEADERS.errorMessage])).toContain('orderId');
    expect(headers[DEAD_LETTER_HEADERS.attempts]).toBe(1);
    expect(await suite.admin.messageCount(Q.dedupKey)).toBe(0);
  }, 20_000);

  it('answers an RPC caller at once when the thrown error cannot be encoded, keeping name, message and code', async () => {
    for (const key of ['iso.rpc.bigint-data', 'iso.rpc.circular', 'iso.rpc.rpc-exception', 'iso.rpc.bigint-data']) {
      const { error, ms } = await failureOf(key);
      expect(error).toBeInstanceOf(RpcRemoteError);
      expect(ms).toBeLessThan(3000);
    }
    const { error } = await failureOf('iso.rpc.bigint-data');
    expect(error).toMatchObject({ remoteName: 'LimitError', remoteCode: 'LIMIT', message: 'limit exceeded' });
    const loop = (await failureOf('iso.rpc.circular')).error;
    expect(loop).toMatchObject({ remoteName: 'LoopError', message: 'refers to itself' });
    // prefetch 1: the queue still answers.
    await expect(request('iso.rpc.echo', { ok: 1 })).resolves.toEqual({ ok: 1 });
  }, 30_000);

  it('answers an RPC caller at once with a typed error when the reply cannot be serialized', async () => {
    const bigint = await failureOf('iso.rpc.bigint-reply');
    expect(bigint.error).toBeInstanceOf(RpcRemoteError);
    expect(bigint.error).toMatchObject({ remoteName: 'RpcReplySerializationError', remoteCode: 'RPC_REPLY_SERIALIZATION' });
    expect(bigint.ms).toBeLessThan(3000);
    for (let i = 0; i < 2; i++) {
      const refused = await failureOf('iso.rpc.refused');
      expect(refused.error).toMatchObject({ remoteCode: 'RPC_REPLY_SERIALIZATION' });
      expect(refused.ms).toBeLessThan(3000);
    }
    await expect(request('iso.rpc.echo', 'still here')).resolves.toBe('still here');
  }, 30_000);

  it('answers an RPC caller at once when the request body cannot be deserialized', async () => {
    const { error, ms } = await failureOf('iso.rpc.echo', Buffer.from('{not json'));
    expect(error).toBeInstanceOf(RpcRemoteError);
    expect(error).toMatchObject({ remoteCode: 'MESSAGE_DESERIALIZATION' });
    expect(ms).toBeLessThan(3000);
  }, 20_000);

  it('routes by the delivery routing key when warren-original-routing-key is not a string, on a shared queue', async () => {
    const header = 'warren-original-routing-key';
    const json = { contentType: 'application/json' };
    await suite.admin.publishRaw(exchange, 'iso.shared.a.1', JSON.stringify({ n: 1 }), { ...json, headers: { [header]: 42 } });
    await suite.admin.publishRaw(exchange, 'iso.shared.b', JSON.stringify({ n: 2 }), { ...json, headers: { [header]: { nested: 'table' } } });
    await suite.admin.publishRaw(exchange, 'iso.shared.a.3', JSON.stringify({ n: 3 }), { ...json, headers: { [header]: 'iso.shared.b' } });
    await waitFor(() => handlers.shared.length === 3, 'all three messages handled', 10_000);
    expect(handlers.shared).toEqual(
      expect.arrayContaining([
        { handler: 'a', payload: { n: 1 } },
        { handler: 'b', payload: { n: 2 } },
        { handler: 'b', payload: { n: 3 } },
      ]),
    );
  }, 20_000);

  it('raises no unhandled rejection when a handler fails after its channel closed, and dead-letters only the redelivery', async () => {
    await amqp.publish(exchange, Q.late, { late: true });
    await waitFor(() => handlers.lateStarted === 1, 'the handler running');
    expect(await closeConnectionsNamed(connectionName)).toBeGreaterThan(0);
    await sleep(200);
    handlers.lateGate.open();
    await waitFor(() => handlers.lateStarted === 2, 'the redelivery', 20_000);
    await waitFor(async () => (await suite.admin.messageCount(`${Q.late}.dlq`)) === 1, 'the redelivery dead-lettered');
    await sleep(500);
    expect(unhandled).toEqual([]);
    // Dead-lettered once: the failure on the closed channel left the message to its redelivery.
    expect(await suite.admin.messageCount(`${Q.late}.dlq`)).toBe(1);
  }, 40_000);
});

describe('consumer isolation: telemetry hooks that throw', () => {
  const suite = suiteApps();
  const logger = new CapturingLogger();
  let app: INestApplicationContext;

  beforeAll(async () => {
    suite.admin.track('exchange', exchange);
    suite.admin.track('queue', Q.traced, Q.tracedRpc);
    app = await suite.boot(
      {
        imports: [
          RabbitMQModule.forRoot({
            uri: AMQP_URL,
            connectionName: uniqueName('iso-telemetry'),
            exchanges: [{ name: exchange, type: 'topic' }],
            telemetry: brokenTelemetry(),
          }),
        ],
        providers: [Traced],
      },
      logger,
    );
  });

  it('in onConsume and onReply never affect a message: each is handled and settled once, and each broken hook is logged once', async () => {
    const amqp = app.get(AmqpConnection);
    const json = { contentType: 'application/json' };
    for (let n = 0; n < 5; n++) await suite.admin.publishRaw(exchange, Q.traced, JSON.stringify({ n }), json);
    const traced = app.get(Traced);
    await waitFor(() => traced.seen.length === 5, 'five messages handled', 10_000);
    await expect(amqp.request({ exchange, routingKey: Q.tracedRpc, payload: 21, timeout: 5000 })).resolves.toBe(42);
    await expect(amqp.request({ exchange, routingKey: Q.tracedRpc, payload: 2, timeout: 5000 })).resolves.toBe(4);
    await waitFor(async () => (await suite.admin.messageCount(Q.traced)) === 0, 'an empty queue');
    await sleep(300);
    expect(traced.seen).toEqual([0, 1, 2, 3, 4]);
    expect(amqp.getHandlerStats()['Traced.on']).toMatchObject({ handled: 5, failed: 0 });
    for (const text of ['t1 consume hook broken', 't2 consume hook broken after next', 't2 reply hook broken']) {
      expect(logger.lines.filter((line) => line.startsWith('WARN') && line.includes(text))).toHaveLength(1);
    }
  }, 30_000);

  it('in onPublish and onRequest never fail the publish or the request', async () => {
    brokenCallHooks = true;
    const amqp = app.get(AmqpConnection);
    const traced = app.get(Traced);
    const before = traced.seen.length;
    for (let n = 10; n < 13; n++) await amqp.publish(exchange, Q.traced, { n });
    await waitFor(() => traced.seen.length === before + 3, 'three more messages handled');
    await expect(amqp.request({ exchange, routingKey: Q.tracedRpc, payload: 5, timeout: 5000 })).resolves.toBe(10);
    await expect(amqp.request({ exchange, routingKey: Q.tracedRpc, payload: 6, timeout: 5000 })).resolves.toBe(12);
    for (const text of ['t1 publish hook broken', 't2 request finisher broken']) {
      expect(logger.lines.filter((line) => line.startsWith('WARN') && line.includes(text))).toHaveLength(1);
    }
  }, 30_000);
});

describe('consumer isolation: shutdown', () => {
  const suite = suiteApps();

  it('a handler that never settles holds app.close() for shutdownTimeout at most', async () => {
    suite.admin.track('exchange', exchange);
    suite.admin.track('queue', Q.stuck);
    const app = await suite.boot({
      imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, shutdownTimeout: 1000, exchanges: [{ name: exchange, type: 'topic' }] })],
      providers: [Stuck],
    });
    await app.get(AmqpConnection).publish(exchange, Q.stuck, {});
    await waitFor(() => app.get(Stuck).started === 1, 'the handler running');
    const started = Date.now();
    await suite.close(app);
    expect(Date.now() - started).toBeLessThan(3000);
    // Never acked: back in its queue for the next consumer.
    await waitFor(async () => (await suite.admin.messageCount(Q.stuck)) === 1, 'the message back in its queue');
  }, 20_000);
});
