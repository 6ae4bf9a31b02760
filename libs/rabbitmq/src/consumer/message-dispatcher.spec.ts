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
import { Nack } from './nack';
import { InvalidBatchResultError } from '../errors/invalid-batch-result.error';
import { isPermanent } from '../errors/permanent-failure';

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
    stopsAccepting: () => new AbortController().signal,
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

  describe('in-place retries', () => {
    /** A source that stops accepting when told, aborting its signal like a consumer that is stopping or lets go of a partition. */
    function letGoable(base: ReturnType<typeof setup>) {
      let accepting = true;
      const controller = new AbortController();
      const source: DispatchSource = {
        ...base.source,
        accepts: () => accepting,
        stopsAccepting: () => controller.signal,
      };
      return {
        source,
        letGo: () => {
          accepting = false;
          controller.abort();
        },
      };
    }

    it('ends a long backoff as soon as the source stops accepting, and gives the delivery back unfailed', async () => {
      let runs = 0;
      const base = setup({ retryImmediately: () => 30_000 }, () => {
        runs++;
        throw new Error('gateway down');
      });
      const { source, letGo } = letGoable(base);
      const { channel, settled } = fakeChannel();
      const started = Date.now();
      const dispatching = dispatcher.dispatch(source, channel, delivery('1'));
      setTimeout(letGo, 20);
      await expect(dispatching).resolves.toBe('requeued');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(runs).toBe(1);
      expect(settled).toEqual(['requeue']);
      expect(base.failures).toEqual([]);
    });

    it('neither waits nor runs again when the source stopped accepting while the handler ran', async () => {
      let runs = 0;
      const base = setup({ retryImmediately: () => 30_000 });
      const { source, letGo } = letGoable(base);
      base.route.descriptor.invoke = async () => {
        runs++;
        letGo();
        throw new Error('gateway down');
      };
      const { channel, settled } = fakeChannel();
      await expect(dispatcher.dispatch(source, channel, delivery('1'))).resolves.toBe('requeued');
      expect(runs).toBe(1);
      expect(settled).toEqual(['requeue']);
    });

    it('still fails a delivery whose retries are used up, whether or not the source accepts it', async () => {
      const base = setup({ retryImmediately: () => false }, () => {
        throw new Error('gateway down');
      });
      const { source, letGo } = letGoable(base);
      letGo();
      const { channel, settled } = fakeChannel();
      await expect(dispatcher.dispatch(source, channel, delivery('1'))).resolves.toBe('dead-lettered');
      expect(settled).toEqual(['ack']);
      expect(base.failures).toEqual([new Error('gateway down')]);
    });

    it('gives back every message of a batch whose in-place retry is cut short', async () => {
      const base = setup({ retryImmediately: () => 30_000 });
      base.route.descriptor.invokeBatch = async () => {
        throw new Error('gateway down');
      };
      const { source, letGo } = letGoable(base);
      const { channel, settled } = fakeChannel();
      const dispatching = dispatcher.dispatchBatch(source, base.route, channel, [delivery('1'), delivery('2')]);
      setTimeout(letGo, 20);
      await dispatching;
      expect(settled).toEqual(['requeue', 'requeue']);
      expect(base.failures).toEqual([]);
    });
  });

  describe('batches', () => {
    function batchSetup(invokeBatch: (payloads: unknown[]) => unknown) {
      const base = setup();
      base.route.descriptor.invokeBatch = async (payloads) => invokeBatch(payloads);
      return base;
    }
    const three = () => [delivery('{"n":1}'), delivery('{"n":2}'), delivery('{"n":3}')];

    it('settles each message by its entry of a returned array', async () => {
      const { source, route, failures } = batchSetup(() => [undefined, new Nack(true), new Error('third')]);
      const { channel, settled } = fakeChannel();
      await dispatcher.dispatchBatch(source, route, channel, three());
      expect(settled.sort()).toEqual(['ack', 'ack', 'requeue']); // the Error went to the failure strategy (dead-lettered: acked)
      expect(failures).toEqual([new Error('third')]);
      expect(route.stats).toMatchObject({ handled: 1, failed: 2 });
    });

    it.each([
      ['a shorter array', [undefined]],
      ['a longer array', [undefined, undefined, undefined, undefined]],
      ['an entry that is not an outcome', [undefined, 'ok', undefined]],
    ])('fails every message with InvalidBatchResultError for %s, each settled once', async (_what, result) => {
      const { source, route, failures } = batchSetup(() => result);
      const { channel, settled } = fakeChannel();
      await dispatcher.dispatchBatch(source, route, channel, three());
      expect(settled).toEqual(['ack', 'ack', 'ack']);
      expect(failures).toHaveLength(3);
      for (const failure of failures) expect(failure).toBeInstanceOf(InvalidBatchResultError);
      expect(failures[0]).toMatchObject({ handler: 'H.run', expected: 3, received: result.length });
      expect(isPermanent(failures[0])).toBe(true);
    });

    it('fails every message with what the handler threw, also when it is not an Error', async () => {
      const { source, route, failures } = batchSetup(() => {
        throw 'plain string';
      });
      const { channel, settled } = fakeChannel();
      await dispatcher.dispatchBatch(source, route, channel, three());
      expect(settled).toHaveLength(3);
      expect(failures).toEqual(['plain string', 'plain string', 'plain string']);
    });

    it('reports one telemetry outcome per message', async () => {
      const seen: string[] = [];
      const hub = new TelemetryHub([
        {
          async onConsume(_info, next) {
            const outcome = await next();
            seen.push(outcome);
            return outcome;
          },
        },
      ]);
      const withHub = new MessageDispatcher(1_000_000, 'c', hub);
      const { source, route } = batchSetup(() => [undefined, new Nack(), undefined]);
      const { channel } = fakeChannel();
      await withHub.dispatchBatch(source, route, channel, three());
      expect(seen.sort()).toEqual(['acked', 'acked', 'rejected']);
    });
  });
});
