import { Logger } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import { TelemetryHub } from '../observability/telemetry-hub';
import { JsonSerializer } from '../message/serializer';
import { WARREN_HEADERS } from '../message/warren-headers';
import type { DedupGuard } from './dedup-guard';
import { DEAD_LETTERED, type FailureStrategy } from './failure-strategy';
import { emptyStats } from './handler-stats';
import type { HandlerRoute } from './handler-route';
import { MessageDispatcher, type DispatchSource } from './message-dispatcher';

/** A channel that records how each delivery was settled and what was published. */
function fakeChannel() {
  const settled: string[] = [];
  const published: Array<{ body: unknown; headers: Record<string, unknown> | undefined }> = [];
  const channel = {
    ack: () => void settled.push('ack'),
    nack: (_m: unknown, _all: boolean, requeue: boolean) => void settled.push(requeue ? 'requeue' : 'reject'),
    publish: (_x: string, _k: string, body: Buffer, options: { headers?: Record<string, unknown> }) => {
      published.push({ body: JSON.parse(body.toString()), headers: options.headers });
      return true;
    },
  };
  return { channel: channel as unknown as Channel, settled, published };
}

function delivery(body: string, properties: Record<string, unknown> = {}, routingKey = 'k'): ConsumeMessage {
  return {
    content: Buffer.from(body),
    fields: { routingKey, exchange: 'x', deliveryTag: 1, redelivered: false, consumerTag: 't' },
    properties: { contentType: 'application/json', headers: {}, ...properties },
  } as unknown as ConsumeMessage;
}

function setup(overrides: Partial<HandlerRoute> = {}, invoke: (payload: unknown) => unknown = () => undefined, kind: 'subscribe' | 'rpc' = 'subscribe') {
  const failures: unknown[] = [];
  const failure: FailureStrategy = {
    onFailure: async ({ error }) => {
      failures.push(error);
      return DEAD_LETTERED;
    },
  };
  const route: HandlerRoute = {
    descriptor: { name: 'H.run', kind, config: {}, invoke: async (payload) => invoke(payload) },
    matches: () => true,
    errorBehavior: 'dead-letter',
    serializer: new JsonSerializer(),
    allowNonJson: false,
    failure,
    dedup: undefined,
    retryImmediately: undefined,
    stats: emptyStats(),
    ...overrides,
  };
  const routed: string[] = [];
  const source: DispatchSource = {
    queue: 'q',
    route: (key) => {
      routed.push(key);
      return route;
    },
    fallbackFailure: failure,
    accepts: () => true,
    hasClosed: () => false,
  };
  return { route, source, failures, routed };
}

describe('MessageDispatcher', () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['error']));
  const dispatcher = new MessageDispatcher(1_000_000, 'c', undefined);

  it('fails a delivery whose dedup guard throws, settling it once', async () => {
    const boom = new Error('key() threw');
    const dedup: DedupGuard = { begin: () => Promise.reject(boom), succeeded: async () => undefined, failed: async () => undefined };
    const { source, failures } = setup({ dedup });
    const { channel, settled } = fakeChannel();
    await expect(dispatcher.dispatch(source, channel, delivery('null'))).resolves.toBe('dead-lettered');
    expect(failures).toEqual([boom]);
    expect(settled).toEqual(['ack']);
  });

  it('answers an RPC request whose body cannot be read with the error, and acks it once', async () => {
    const { source } = setup({}, () => 'never', 'rpc');
    const { channel, settled, published } = fakeChannel();
    await expect(dispatcher.dispatch(source, channel, delivery('{nope', { replyTo: 'r', correlationId: 'c1' }))).resolves.toBe('replied-error');
    expect(published).toHaveLength(1);
    expect(published[0].body).toMatchObject({ code: 'MESSAGE_DESERIALIZATION' });
    expect(published[0].headers?.[WARREN_HEADERS.rpcStatus]).toBe('error');
    expect(settled).toEqual(['ack']);
  });

  it('answers with RpcReplySerializationError when the reply cannot be serialized', async () => {
    const { source, route } = setup({}, () => ({ n: 1n }), 'rpc');
    const { channel, settled, published } = fakeChannel();
    await expect(dispatcher.dispatch(source, channel, delivery('1', { replyTo: 'r', correlationId: 'c1' }))).resolves.toBe('replied-error');
    expect(published[0].body).toMatchObject({ name: 'RpcReplySerializationError', code: 'RPC_REPLY_SERIALIZATION' });
    expect(settled).toEqual(['ack']);
    expect(route.stats).toMatchObject({ handled: 0, failed: 1 });
  });

  it('settles a delivery once when the handler throws null and the failure strategy throws an unreadable value', async () => {
    const { source } = setup(
      {
        failure: {
          onFailure: () => {
            throw Object.create(null);
          },
        },
      },
      () => {
        throw null;
      },
    );
    const { channel, settled } = fakeChannel();
    await dispatcher.dispatch(source, channel, delivery('1'));
    expect(settled).toHaveLength(1);
  });

  it('routes by the delivery routing key when warren-original-routing-key is not a string', async () => {
    const { source, routed } = setup();
    const { channel, settled } = fakeChannel();
    await dispatcher.dispatch(source, channel, delivery('1', { headers: { [WARREN_HEADERS.originalRoutingKey]: 42 } }, 'own.key'));
    await dispatcher.dispatch(source, channel, delivery('1', { headers: { [WARREN_HEADERS.originalRoutingKey]: 'original.key' } }, 'own.key'));
    expect(routed).toEqual(['own.key', 'original.key']);
    expect(settled).toEqual(['ack', 'ack']);
  });

  it('runs and settles a delivery once when telemetry hooks throw', async () => {
    const hub = new TelemetryHub([
      {
        onConsume: () => {
          throw new Error('broken');
        },
      },
      {
        onConsume: async (_info, next) => {
          await next();
          return next();
        },
      },
    ]);
    const traced = new MessageDispatcher(1_000_000, 'c', hub);
    const runs: unknown[] = [];
    const { source } = setup({}, (payload) => runs.push(payload));
    const { channel, settled } = fakeChannel();
    await expect(traced.dispatch(source, channel, delivery('7'))).resolves.toBe('acked');
    expect(runs).toEqual([7]);
    expect(settled).toEqual(['ack']);
  });
});
