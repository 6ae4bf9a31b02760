import { InvalidOptionsError } from '../errors/invalid-options.error';
import { JsonSerializer } from '../message/serializer';
import { closest, editDistance } from './option-shape';
import { resolveHandlerConfig } from './golevelup-names';
import { MessageHandlerErrorBehavior } from './message-handler-error-behavior';
import type { RabbitHandlerConfig, RabbitMQModuleOptions } from './rabbitmq-options.interface';
import { resolveOptions } from './resolve-options';

const URI = 'amqp://guest:guest@127.0.0.1:5672';

/** The InvalidOptionsError resolveOptions throws for `options` (typed loosely: hostile input is the point). */
function rejectionOf(options: unknown): InvalidOptionsError {
  try {
    resolveOptions(options as RabbitMQModuleOptions);
  } catch (error) {
    if (error instanceof InvalidOptionsError) return error;
    throw error;
  }
  throw new Error('resolveOptions accepted the options');
}

const handlerDefaults = { serializer: new JsonSerializer(), defaultChannel: undefined, queueConsumerTags: new Map<string, string>() };

describe('edit distance', () => {
  it('counts a change of case as half an edit, so a case typo beats a real one', () => {
    expect(editDistance('prefetchcount', 'prefetchCount')).toBe(0.5);
    expect(editDistance('durabel', 'durable')).toBe(2);
    expect(closest('prefetchcount', ['prefetch', 'prefetchCount', 'channel'])).toBe('prefetchCount');
  });

  it('suggests a longer name that the key begins', () => {
    expect(closest('prefetch', ['prefetchCount', 'channels'])).toBe('prefetchCount');
    expect(closest('ttl', ['ttlSeconds'])).toBeUndefined();
  });

  it('suggests nothing when no name is close', () => {
    expect(closest('colour', ['prefetchCount', 'exchanges'])).toBeUndefined();
  });
});

describe('resolveOptions: unknown keys and wrong types', () => {
  it('reports a top-level typo with the closest valid name', () => {
    const error = rejectionOf({ uri: URI, prefetchcount: 5 });
    expect(error.problems).toEqual([`connection 'default': prefetchcount: unknown option; did you mean prefetchCount?`]);
    expect(error.unknownOptions).toEqual([{ path: `connection 'default': prefetchcount`, didYouMean: 'prefetchCount' }]);
  });

  it('reports unknown keys at every depth, in arrays and records, all in one error', () => {
    const error = rejectionOf({
      name: 'orders',
      uri: URI,
      exchanges: [
        { name: 'a', type: 'topic' },
        { name: 'b', typ: 'direct' },
      ],
      queues: [{ name: 'q', bindings: [{ exchange: 'a', routingKeys: 'x' }] }],
      channels: { slow: { prefetchcount: 1 } },
      connectionInitOptions: { wiat: true },
      handlers: { 'Billing.on': { queueOptions: { durabel: true } } },
      defaultRetry: { backoff: { type: 'fixed', delay: 10, dealy: 5 } },
    });
    expect(error.unknownOptions.map((u) => [u.path.replace(`connection 'orders': `, ''), u.didYouMean])).toEqual([
      ['exchanges[1].typ', 'type'],
      ['queues[0].bindings[0].routingKeys', 'routingKey'],
      ['channels.slow.prefetchcount', 'prefetchCount'],
      ['connectionInitOptions.wiat', 'wait'],
      ['handlers["Billing.on"].queueOptions.durabel', 'durable'],
      ['defaultRetry.backoff.dealy', 'delay'],
    ]);
    expect(error.problems).toHaveLength(6);
    expect(error.message).toContain('exchanges[1].typ: unknown option; did you mean exchanges[1].type?');
  });

  it('reports wrong types with the path and what was given', () => {
    const error = rejectionOf({
      uri: URI,
      prefetchCount: '10',
      exchanges: { name: 'a' },
      publishOptions: { mandatory: 'yes' },
      heartbeatIntervalInSeconds: NaN,
    });
    expect(error.problems).toEqual(
      expect.arrayContaining([
        `connection 'default': prefetchCount must be a number (got '10')`,
        `connection 'default': exchanges must be an array (got an object)`,
        `connection 'default': publishOptions.mandatory must be a boolean (got 'yes')`,
        `connection 'default': heartbeatIntervalInSeconds must be a number (got number NaN)`,
      ]),
    );
    expect(error.problems).toHaveLength(4);
  });

  it('rejects golevelup names whose meaning Warren cannot keep, naming what to use', () => {
    const error = rejectionOf({ uri: URI, logger: console, handlers: { sub: [{ queue: 'a' }, { queue: 'b' }] } });
    expect(error.problems.join('\n')).toMatch(/logger is not supported: .*useLogger/);
    expect(error.problems.join('\n')).toMatch(/handlers\.sub is not supported: one handler per entry/);
    expect(error.unknownOptions).toEqual([]);
  });

  it('rejects a null, an array or a string as the options themselves', () => {
    expect(rejectionOf('amqp://x').problems).toEqual([`connection 'default': options must be an object (got 'amqp://x')`]);
    expect(rejectionOf([URI]).problems[0]).toMatch(/options must be an object \(got an array\)/);
  });

  it('accepts instances with private state (serializer, telemetry, stores) without inspecting their keys', () => {
    class Custom extends JsonSerializer {
      private readonly cache = new Map();
    }
    expect(() => resolveOptions({ uri: URI, serializer: new Custom() })).not.toThrow();
  });
});

describe('resolveOptions: golevelup 9 names', () => {
  it('takes connectionManagerOptions, connectionInitOptions.reject, enableDirectReplyTo and defaultPublishOptions with their meaning', () => {
    const resolved = resolveOptions({
      uri: URI,
      connectionManagerOptions: { heartbeatIntervalInSeconds: 7, reconnectTimeInSeconds: 3, connectionOptions: { servername: 'rabbit' } },
      connectionInitOptions: { wait: true, timeout: 2000, reject: false, skipConnectionFailedLogging: true },
      enableDirectReplyTo: false,
      defaultPublishOptions: { persistent: false, priority: 3 },
      defaultSubscribeErrorBehavior: MessageHandlerErrorBehavior.REQUEUE,
    });
    expect(resolved).toMatchObject({
      heartbeatIntervalInSeconds: 7,
      reconnectTimeInSeconds: 3,
      rejectOnInitFailure: false,
      logConnectFailures: false,
      logDisconnects: true,
      directReplyTo: false,
      persistent: false,
      publishProperties: { priority: 3 },
      errorBehavior: 'requeue',
    });
    expect(resolved.socketOptions).toMatchObject({ servername: 'rabbit', timeout: 2000 });
  });

  it('refuses one setting given twice with two values', () => {
    const error = rejectionOf({ uri: URI, heartbeatIntervalInSeconds: 5, connectionManagerOptions: { heartbeatIntervalInSeconds: 10 } });
    expect(error.problems[0]).toMatch(/heartbeatIntervalInSeconds \(5\) and connectionManagerOptions.heartbeatIntervalInSeconds \(10\) are the same setting/);
  });

  it("translates golevelup's exchanges, exchange bindings, queues and channels", () => {
    const resolved = resolveOptions({
      uri: { protocol: 'amqp', hostname: '127.0.0.1', port: 5672, username: 'guest', password: 'p@ss', vhost: '/' },
      defaultExchangeType: 'direct',
      exchanges: [{ name: 'a' }, { name: 'b', type: 'fanout', createExchangeIfNotExists: false }],
      exchangeBindings: [{ source: 'a', destination: 'b', pattern: 'x.#', args: { k: 1 } }],
      queues: [
        { name: 'q', options: { durable: false, messageTtl: 1000 }, exchange: 'a', routingKey: 'k', createQueueIfNotExists: false, consumerTag: 'tag-q' },
      ],
      channels: { main: { prefetchCount: 3, default: true }, other: {} },
    });
    expect(resolved.uris).toEqual(['amqp://guest:p%40ss@127.0.0.1:5672/%2F']);
    expect(resolved.exchanges).toEqual([
      { name: 'a', type: 'direct', passive: undefined },
      { name: 'b', type: 'fanout', passive: true },
    ]);
    expect(resolved.exchangeBindings).toEqual([{ source: 'a', destination: 'b', routingKey: 'x.#', arguments: { k: 1 } }]);
    expect(resolved.queues[0]).toMatchObject({
      name: 'q',
      durable: false,
      messageTtl: 1000,
      passive: true,
      consumerTag: 'tag-q',
      bindings: [{ exchange: 'a', routingKey: 'k' }],
    });
    expect(resolved.defaultChannel).toBe('main');
    expect(resolved.channels).toEqual({ main: { prefetchCount: 3 }, other: { prefetchCount: 10 } });
  });

  it('wraps serializer and deserializer functions, the deserializer receiving the raw message', () => {
    const resolved = resolveOptions({
      uri: URI,
      serializer: (value: unknown) => Buffer.from(`<${String(value)}>`),
      deserializer: (body, msg) => `${body.toString()} via ${msg.fields.routingKey}`,
    });
    expect(resolved.serializer.serialize('x').toString()).toBe('<x>');
    const message = { content: Buffer.from('hi'), fields: { routingKey: 'rk' }, properties: {} } as never;
    expect(resolved.serializer.deserialize(Buffer.from('hi'), undefined, message)).toBe('hi via rk');
  });
});

describe('resolveHandlerConfig', () => {
  it('moves queueOptions.channel, consumerOptions and bindQueueArguments out, and maps the error behaviour enum', () => {
    const { config, problems } = resolveHandlerConfig(
      {
        queue: 'q',
        errorBehavior: MessageHandlerErrorBehavior.REQUEUE,
        createQueueIfNotExists: false,
        queueOptions: { durable: true, channel: 'slow', consumerOptions: { consumerTag: 'mine', priority: 2 }, bindQueueArguments: { 'x-match': 'all' } },
      },
      handlerDefaults,
    );
    expect(problems).toEqual([]);
    expect(config).toEqual({
      queue: 'q',
      errorBehavior: 'requeue',
      channel: 'slow',
      bindingArguments: { 'x-match': 'all' },
      consumerOptions: { consumerTag: 'mine', priority: 2 },
      queueOptions: { durable: true, passive: true },
    });
  });

  it("gives a handler its module queue's consumer tag and the default channel unless it names its own", () => {
    const defaults = { ...handlerDefaults, defaultChannel: 'main', queueConsumerTags: new Map([['q', 'module-tag']]) };
    expect(resolveHandlerConfig({ queue: 'q' }, defaults).config).toMatchObject({ channel: 'main', consumerOptions: { consumerTag: 'module-tag' } });
    expect(resolveHandlerConfig({ queue: 'q', consumerTag: 'own', channel: 'x' }, defaults).config).toMatchObject({
      channel: 'x',
      consumerOptions: { consumerTag: 'own' },
    });
  });

  it('reports unknown and mistyped handler keys, including batch sub-keys, and knows batch/batchOptions', () => {
    const hostile = {
      queue: 'q',
      exchnage: 'a',
      prefetch: 'ten',
      batch: { size: 10, timeoutMs: 50 },
      batchOptions: { size: 5, timout: 1 },
    } as unknown as RabbitHandlerConfig;
    const { problems } = resolveHandlerConfig(hostile, handlerDefaults);
    expect(problems.map((p) => p.message)).toEqual([
      'exchnage: unknown option; did you mean exchange?',
      'prefetch must be a number (got string ten)'.replace('string ten', `'ten'`),
      'batchOptions.timout: unknown option; did you mean batchOptions.timeout?',
    ]);
  });

  it('keeps partitioned handlers and stream readers off the default channel: they need channels of their own', () => {
    const defaults = { ...handlerDefaults, defaultChannel: 'main' };
    expect(resolveHandlerConfig({ queue: 'q' }, defaults).config.channel).toBe('main');
    expect(resolveHandlerConfig({ queue: 'q', partitions: { count: 4 } }, defaults).config.channel).toBeUndefined();
    expect(resolveHandlerConfig({ queue: 'q', queueOptions: { type: 'stream' }, stream: { offset: 'first' } }, defaults).config.channel).toBeUndefined();
  });

  it("takes each batch key's own timeout name only: batch.timeoutMs, batchOptions.timeout", () => {
    const hostile = { queue: 'q', batch: { size: 5, timeout: 100 }, batchOptions: { size: 5, timeoutMs: 100 } } as unknown as RabbitHandlerConfig;
    const { problems } = resolveHandlerConfig(hostile, handlerDefaults);
    expect(problems.map((p) => p.message)).toEqual([
      'batch.timeout: unknown option; did you mean batch.timeoutMs?',
      'batchOptions.timeoutMs: unknown option; did you mean batchOptions.timeout?',
    ]);
  });

  it("refuses golevelup's batchOptions.errorHandler, naming what to do instead", () => {
    const hostile = { queue: 'q', batchOptions: { size: 5, timeout: 100, errorHandler: () => undefined } } as unknown as RabbitHandlerConfig;
    const { problems } = resolveHandlerConfig(hostile, handlerDefaults);
    expect(problems.map((p) => p.message)).toEqual([expect.stringMatching(/^batchOptions\.errorHandler is not supported: return an array of outcomes/)]);
  });

  it('takes assertQueueErrorHandler as a function and nothing else', () => {
    expect(resolveHandlerConfig({ queue: 'q', assertQueueErrorHandler: () => 'q' }, handlerDefaults).problems).toEqual([]);
    const { problems } = resolveHandlerConfig({ queue: 'q', assertQueueErrorHandler: 'delete' } as unknown as RabbitHandlerConfig, handlerDefaults);
    expect(problems[0].message).toBe(`assertQueueErrorHandler must be a function (got 'delete')`);
  });
});
