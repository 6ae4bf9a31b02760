/**
 * golevelup 9 conformance: each test states what golevelup's README or public types document,
 * and checks that Warren does it, running golevelup-style code (golevelup/messaging.fixture.ts,
 * which differs from a golevelup application only in its import) on the real broker.
 * The table in docs/migration-from-golevelup.md is made from this file.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable, Module, ParseIntPipe, type INestApplicationContext } from '@nestjs/common';
import type { ConsumeMessage } from 'amqplib';
import * as ts from 'typescript';
import {
  AmqpConnection,
  ChannelNotAvailableError,
  ConnectionClosedError,
  ConnectionNotAvailableError,
  InvalidOptionsError,
  MessageEncodingError,
  NullMessageError,
  RABBIT_HEADER_TYPE,
  RABBIT_PARAM_TYPE,
  RABBIT_REQUEST_TYPE,
  WarrenError,
  createPipesRpcParamDecorator,
  MessageHandlerErrorBehavior,
  RabbitHandler,
  RabbitMQModule,
  RabbitSubscribe,
  RpcTimeoutError,
  TopologyError,
  UnsupportedOperationError,
  defaultAssertQueueErrorHandler,
  getConnectionToken,
} from '@warren/rabbitmq';
import { AMQP_URL, uniqueName, waitFor } from '../support/broker';
import { CapturingLogger, bootExpectingFailure, suiteApps } from '../support/app';

const names: Record<string, string> = {};
for (const key of [
  'exchange',
  'exchange2',
  'exchange3',
  'subscribeQueue',
  'rpcQueue',
  'multiQueue',
  'paramsQueue',
  'nackQueue',
  'requeueQueue',
  'errorHandlerQueue',
  'legacyQueue',
  'ackQueue',
  'nackErrorQueue',
  'parkingQueue',
  'requeueErrorQueue',
  'rawQueue',
  'deserializerQueue',
  'taggedQueue',
  'moduleQueue',
  'configuredQueue',
  'persistentRpcQueue',
  'failingRpcQueue',
  'conflictQueue',
  'existingQueue',
  'madeQueue',
  'handlerTag',
  'moduleTag',
]) {
  names[key] = uniqueName(`glu-${key}`);
}
process.env.GOLEVELUP_FIXTURE_NAMES = JSON.stringify(names);

// Imported after the names are set: the fixture's decorators read them when it loads.

const fixture = require('./golevelup/messaging.fixture') as typeof import('./golevelup/messaging.fixture');

const UNREACHABLE = 'amqp://guest:guest@127.0.0.1:1';

describe('golevelup 9 conformance (only the import changed)', () => {
  const apps = suiteApps();
  let app: INestApplicationContext;
  let amqp: AmqpConnection;
  let publisher: InstanceType<typeof fixture.Publisher>;
  const seen = fixture.seen;

  beforeAll(async () => {
    apps.admin.track('exchange', names.exchange, names.exchange2, names.exchange3);
    apps.admin.track(
      'queue',
      ...Object.entries(names)
        .filter(([key]) => key.endsWith('Queue'))
        .map(([, name]) => name),
    );
    await apps.admin.raw((ch) => ch.assertQueue(names.parkingQueue, { durable: false }));
    // Declared outside the application, with arguments the handler does not repeat.
    await apps.admin.raw((ch) => ch.assertQueue(names.existingQueue, { durable: true, arguments: { 'x-max-length': 100 } }));
    // Declared with another TTL than its handler's: the handler's assertQueueErrorHandler repairs it.
    await apps.admin.raw((ch) => ch.assertQueue(names.conflictQueue, { durable: true, arguments: { 'x-message-ttl': 1000 } }));
    app = await apps.boot({ imports: [fixture.RabbitExampleModule], providers: [fixture.Publisher] });
    amqp = app.get(AmqpConnection);
    publisher = app.get(fixture.Publisher);
  });

  it('the fixture is golevelup code: it type-checks against @golevelup/nestjs-rabbitmq with the import put back', () => {
    const source = join(__dirname, 'golevelup/messaging.fixture.ts');
    const copy = join(__dirname, 'golevelup/.as-golevelup.ts');
    const text = readFileSync(source, 'utf8');
    expect(text.match(/'@warren\/rabbitmq'/g)).toHaveLength(1);
    writeFileSync(copy, text.replace("'@warren/rabbitmq'", "'@golevelup/nestjs-rabbitmq'"));
    try {
      const config = ts.getParsedCommandLineOfConfigFile(
        join(__dirname, '../../tsconfig.json'),
        {},
        { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
      );
      const program = ts.createProgram([copy], { ...config?.options, noEmit: true });
      const errors = ts.getPreEmitDiagnostics(program, program.getSourceFile(copy)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      expect(errors).toEqual([]);
    } finally {
      rmSync(copy, { force: true });
    }
  }, 120_000);

  describe('module configuration', () => {
    it('exchanges: declared with their type; defaultExchangeType for those that name none', async () => {
      // A declare with another type would be refused (PRECONDITION_FAILED).
      await apps.admin.raw((ch) => ch.checkExchange(names.exchange));
      await expect(apps.admin.raw((ch) => ch.assertExchange(names.exchange2, 'topic'))).resolves.toBeDefined();
      await expect(apps.admin.raw((ch) => ch.assertExchange(names.exchange3, 'fanout'))).resolves.toBeDefined();
    });

    it('exchangeBindings { source, destination, pattern }: a message to the source reaches queues bound to the destination', async () => {
      await apps.admin.publishRaw(names.exchange3, 'subscribe-route', JSON.stringify({ via: 'exchange-binding' }), { contentType: 'application/json' });
      await waitFor(() => seen.pubSub?.some((m) => (m as { msg: { via?: string } }).msg.via === 'exchange-binding'), 'message through the exchange binding');
    });

    it('queues [{ name, options, exchange, routingKey, consumerTag }]: declared, bound, and consumed with that tag', async () => {
      await amqp.publish(names.exchange, 'module-route', { to: 'module queue' });
      await waitFor(() => seen.moduleQueue?.length, 'module queue handler');
      expect(amqp.consumerTags).toContain(names.moduleTag);
    });

    it('connectionManagerOptions.heartbeatIntervalInSeconds: the heartbeat negotiated with the broker', () => {
      const heartbeat = (amqp.connection as unknown as { connection: { heartbeat: number } }).connection.heartbeat;
      expect(heartbeat).toBe(7);
    });

    it('defaultPublishOptions: applied to every publish; a publish’s own options win', async () => {
      await publisher.hello();
      await waitFor(() => seen.pubSub?.some((m) => (m as { correlationId?: string }).correlationId === 'c-1'), 'published message');
      const received = seen.pubSub.find((m) => (m as { correlationId?: string }).correlationId === 'c-1') as { priority: number };
      expect(received.priority).toBe(4);
      await amqp.publish(names.exchange, 'subscribe-route', { own: true }, { correlationId: 'c-2', priority: 9 });
      await waitFor(() => seen.pubSub?.some((m) => (m as { correlationId?: string }).correlationId === 'c-2'), 'message with its own priority');
      expect((seen.pubSub.find((m) => (m as { correlationId?: string }).correlationId === 'c-2') as { priority: number }).priority).toBe(9);
    });

    it("handlers: { [name]: options }: a decorator's name picks its options from the module", async () => {
      await amqp.publish(names.exchange, 'configured-route', { configured: true });
      await waitFor(() => seen.configured?.length, 'configured handler');
      expect(await apps.admin.consumerCount(names.configuredQueue)).toBe(1);
    });

    it('connectionInitOptions { wait: true, timeout, reject: false }: start-up goes on when the broker is unreachable', async () => {
      @Module({ imports: [RabbitMQModule.forRoot({ uri: UNREACHABLE, connectionInitOptions: { wait: true, timeout: 300, reject: false } })] })
      class Unreachable {}
      const started = Date.now();
      const unreachable = await apps.boot({ imports: [Unreachable] });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(unreachable.get(AmqpConnection).connected).toBe(false);
      await apps.close(unreachable);
    });

    it('connectionInitOptions { wait: true } with reject left at its default fails start-up', async () => {
      @Module({ imports: [RabbitMQModule.forRoot({ uri: UNREACHABLE, connectionInitOptions: { wait: true, timeout: 300 } })] })
      class Unreachable {}
      const error = await bootExpectingFailure({ imports: [Unreachable] });
      expect((error as Error).name).toBe('ConnectionFailedError');
    });

    it('connectionInitOptions.skipConnectionFailedLogging: failed attempts are not logged', async () => {
      const quiet = new CapturingLogger();
      const loud = new CapturingLogger();
      const failed = (logger: CapturingLogger) => logger.lines.filter((line) => line.includes('failed')).length;
      @Module({ imports: [RabbitMQModule.forRoot({ uri: UNREACHABLE, connectionInitOptions: { wait: false, skipConnectionFailedLogging: true } })] })
      class Quiet {}
      @Module({ imports: [RabbitMQModule.forRoot({ uri: UNREACHABLE, connectionInitOptions: { wait: false } })] })
      class Loud {}
      const quietApp = await apps.boot({ imports: [Quiet] }, quiet);
      const loudApp = await apps.boot({ imports: [Loud] }, loud);
      // Both retry on the same schedule: once the loud one has logged two failures, the quiet one has failed as often.
      await waitFor(() => failed(loud) >= 2, 'failed attempts logged without the option');
      expect(failed(quiet)).toBe(0);
      await apps.close(quietApp);
      await apps.close(loudApp);
    });

    it('connectionInitOptions { wait: false }: starts at once and connects in the background', async () => {
      @Module({ imports: [RabbitMQModule.forRoot({ uri: UNREACHABLE, connectionInitOptions: { wait: false } })] })
      class Background {}
      const background = await apps.boot({ imports: [Background] });
      expect(background.get(AmqpConnection).connected).toBe(false);
      await apps.close(background);
    });

    it('enableDirectReplyTo: false: no reply consumer, so request() cannot work (Warren says so at once)', async () => {
      @Module({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, enableDirectReplyTo: false })] })
      class NoReplies {}
      const noReplies = await apps.boot({ imports: [NoReplies] });
      await expect(noReplies.get(AmqpConnection).request({ exchange: names.exchange, routingKey: 'rpc-route', payload: { n: 1 } })).rejects.toBeInstanceOf(
        UnsupportedOperationError,
      );
      await apps.close(noReplies);
    });

    it('forRoot(RabbitMQModule, undefined) (golevelup’s test setup): no connection, AmqpConnection injected as undefined', async () => {
      @Injectable()
      class NeedsConnection {
        constructor(readonly amqpConnection: AmqpConnection) {}
      }
      @Module({ imports: [RabbitMQModule.forRoot(RabbitMQModule, undefined)], providers: [NeedsConnection] })
      class Disabled {}
      const disabled = await apps.boot({ imports: [Disabled] });
      expect(disabled.get(NeedsConnection).amqpConnection).toBeUndefined();
      await apps.close(disabled);
    });

    it('defaultRpcErrorHandler: settles a failed request (Warren also sends the error to the caller at once)', async () => {
      const error = await amqp.request({ exchange: names.exchange, routingKey: 'failing-rpc', payload: {} }).catch((e: unknown) => e);
      expect((error as Error).name).toBe('RpcRemoteError');
      await waitFor(() => seen.rpcErrorHandler?.length, 'defaultRpcErrorHandler call');
      expect(seen.rpcErrorHandler[0]).toEqual({ routingKey: 'failing-rpc', error: 'rpc failed' });
      await waitFor(async () => (await apps.admin.messageCount(names.failingRpcQueue)) === 0, 'request acked by the handler');
    });

    it('forRootAsync({ useClass }) with golevelup’s create() factory method', async () => {
      @Injectable()
      class RabbitConfig {
        create() {
          return { uri: AMQP_URL, defaultRpcTimeout: 1234 };
        }
      }
      @Module({ imports: [RabbitMQModule.forRootAsync({ useClass: RabbitConfig })] })
      class AsyncModule {}
      const asyncApp = await apps.boot({ imports: [AsyncModule] });
      expect(asyncApp.get(AmqpConnection).configuration.defaultRpcTimeout).toBe(1234);
      await apps.close(asyncApp);
    });

    it('defaultHandler: handlers without an entry of their own take that entry of handlers', async () => {
      const queue = uniqueName('glu-default-handler');
      apps.admin.track('queue', queue);
      const received: unknown[] = [];
      @Injectable()
      class Defaulted {
        @RabbitSubscribe({ routingKey: 'defaulted-route' })
        on(msg: unknown) {
          received.push(msg);
        }
      }
      @Module({
        imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, handlers: { base: { exchange: names.exchange, queue } }, defaultHandler: 'base' })],
        providers: [Defaulted],
      })
      class DefaultedModule {}
      const defaulted = await apps.boot({ imports: [DefaultedModule] });
      await amqp.publish(names.exchange, 'defaulted-route', { defaulted: true });
      await waitFor(() => received.length, 'handler configured by defaultHandler');
      expect(await apps.admin.consumerCount(queue)).toBe(1);
      await apps.close(defaulted);
    });

    it('serializer and deserializer functions of the module', async () => {
      const queue = uniqueName('glu-serializer');
      apps.admin.track('queue', queue);
      const received: unknown[] = [];
      @Injectable()
      class Custom {
        @RabbitSubscribe({ exchange: names.exchange, routingKey: 'custom-serializer', queue })
        on(msg: unknown) {
          received.push(msg);
        }
      }
      @Module({
        imports: [
          RabbitMQModule.forRoot({
            uri: AMQP_URL,
            serializer: (value: unknown) => Buffer.from(`v1:${JSON.stringify(value)}`),
            deserializer: (message: Buffer) => JSON.parse(message.toString().replace(/^v1:/, '')) as unknown,
          }),
        ],
        providers: [Custom],
      })
      class CustomModule {}
      const custom = await apps.boot({ imports: [CustomModule] });
      await custom.get(AmqpConnection).publish(names.exchange, 'custom-serializer', { n: 7 });
      await waitFor(() => received.length, 'custom-serialized message');
      expect(received[0]).toEqual({ n: 7 });
      await apps.close(custom);
    });

    it('registerHandlers: false: discovered handlers are not started on the connection', async () => {
      const queue = uniqueName('glu-unregistered');
      apps.admin.track('queue', queue);
      @Injectable()
      class Worker {
        @RabbitSubscribe({ exchange: names.exchange, routingKey: 'unregistered', queue })
        on(): void {}
      }
      @Module({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, registerHandlers: false })], providers: [Worker] })
      class ApiOnly {}
      const apiOnly = await apps.boot({ imports: [ApiOnly] });
      expect(apiOnly.get(AmqpConnection).consumerTags).toEqual([]);
      expect(await apps.admin.queueExists(queue)).toBe(false);
      await apps.close(apiOnly);
    });

    it('logger: not supported — start-up fails naming the Warren way', async () => {
      @Module({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, logger: console } as never)] })
      class WithLogger {}
      const error = (await bootExpectingFailure({ imports: [WithLogger] })) as InvalidOptionsError;
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect(error.problems.join('\n')).toMatch(/logger is not supported: .*useLogger/);
    });
  });

  describe('decorators', () => {
    it('@RabbitSubscribe: the handler gets the payload and the raw message', async () => {
      await amqp.publish(names.exchange, 'subscribe-route', { n: 1 }, { correlationId: 'sub-1' });
      await waitFor(() => seen.pubSub?.some((m) => (m as { correlationId?: string }).correlationId === 'sub-1'), 'subscribe handler');
      expect(seen.pubSub.find((m) => (m as { correlationId?: string }).correlationId === 'sub-1')).toMatchObject({ msg: { n: 1 } });
    });

    it('@RabbitRPC: the return value is the reply', async () => {
      await expect(publisher.double(21)).resolves.toBe(42);
    });

    it('bindings: one queue bound to several exchanges', async () => {
      await amqp.publish(names.exchange, 'route.a', { from: 'a' });
      await amqp.publish(names.exchange2, 'route.b', { from: 'b' });
      await waitFor(() => (seen.multi?.length ?? 0) >= 2, 'both bindings');
      expect([...seen.multi].sort()).toEqual(['a', 'b']);
    });

    it('@RabbitPayload(property), @RabbitHeader(name), @RabbitRequest(property) and @RabbitRequest()', async () => {
      await amqp.publish(names.exchange, 'params-route', { id: 'o-1' }, { headers: { 'x-tenant': 't-9' }, messageId: 'm-1' });
      await waitFor(() => seen.params?.length, 'params handler');
      expect(seen.params[0]).toEqual({ id: 'o-1', tenant: 't-9', messageId: 'm-1', routingKey: 'params-route' });
    });

    it('returning new Nack(true) requeues; new Nack() does not', async () => {
      await amqp.publish(names.exchange, 'nack-route', { requeue: true });
      await waitFor(() => (seen.nack ?? []).filter((n) => (n as { requeue: boolean }).requeue).length === 2, 'requeued redelivery');
      await amqp.publish(names.exchange, 'nack-route', { requeue: false });
      await waitFor(() => (seen.nack ?? []).some((n) => !(n as { requeue: boolean }).requeue), 'rejected delivery');
      await waitFor(async () => (await apps.admin.messageCount(names.nackQueue)) === 0, 'queue empty');
      expect((seen.nack ?? []).filter((n) => !(n as { requeue: boolean }).requeue)).toHaveLength(1);
    });

    it('errorBehavior: MessageHandlerErrorBehavior.REQUEUE explicitly set wins over the module default (NACK): the message is redelivered', async () => {
      await amqp.publish(names.exchange, 'requeue-route', {});
      await waitFor(() => seen.requeue?.includes(true), 'redelivery');
      expect(seen.requeue).toEqual([false, true]);
    });

    it('errorHandler(channel, msg, error): called on a failure, and its ack settles the message', async () => {
      await amqp.publish(names.exchange, 'handler-route', {});
      await waitFor(() => seen.errorHandler?.length, 'errorHandler call');
      expect(seen.errorHandler[0]).toEqual({ hasAck: true, routingKey: 'handler-route', error: 'handled by errorHandler' });
      await waitFor(async () => (await apps.admin.messageCount(names.errorHandlerQueue)) === 0, 'acked');
      expect(amqp.getHandlerStats()['MessagingService.customErrorHandler'].handled + amqp.getHandlerStats()['MessagingService.customErrorHandler'].failed).toBe(
        1,
      );
    });

    it('allowNonJsonMessages: a body that is not JSON reaches the handler raw', async () => {
      await apps.admin.publishRaw(names.exchange, 'raw-route', 'not json {', { contentType: 'application/json' });
      await waitFor(() => seen.raw?.length, 'raw handler');
      expect(seen.raw[0]).toBe('not json {');
    });

    it('deserializer(body, msg): the handler gets what it returns', async () => {
      await apps.admin.publishRaw(names.exchange, 'deserializer-route', 'shout');
      await waitFor(() => seen.deserializer?.length, 'deserializer handler');
      expect(seen.deserializer[0]).toEqual({ text: 'SHOUT', key: 'deserializer-route' });
    });

    it('queueOptions.channel and queueOptions.consumerOptions.consumerTag: consumed on the named channel with that tag', async () => {
      expect(amqp.consumerTags).toContain(names.handlerTag);
      await amqp.publish(names.exchange, 'tagged-route', { tagged: true });
      await waitFor(() => seen.tagged?.length, 'tagged handler');
    });

    it('assertQueueErrorHandler: forceDeleteAssertQueueErrorHandler re-creates a queue declared with other arguments', async () => {
      // The queue now has the handler's TTL: declaring it so is accepted.
      await apps.admin.raw((ch) => ch.assertQueue(names.conflictQueue, { durable: true, arguments: { 'x-message-ttl': 60000 } }));
      await amqp.publish(names.exchange, 'force-route', { forced: true });
      await waitFor(() => seen.forced?.length, 'handler on the re-created queue');
      expect(amqp.topologyErrors).toEqual([]);
    });

    it('assertQueueErrorHandler: defaultAssertQueueErrorHandler rethrows, and the handler stays stopped', async () => {
      const queue = uniqueName('glu-rethrow');
      apps.admin.track('queue', queue);
      await apps.admin.raw((ch) => ch.assertQueue(queue, { durable: true, arguments: { 'x-message-ttl': 1000 } }));
      @Injectable()
      class Strict {
        @RabbitSubscribe({ queue, queueOptions: { messageTtl: 2000 }, assertQueueErrorHandler: defaultAssertQueueErrorHandler })
        on(): void {}
      }
      const strict = await apps.boot({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL })], providers: [Strict] });
      const connection = strict.get(AmqpConnection);
      await waitFor(() => connection.topologyErrors.length, 'the refusal reported');
      expect((connection.topologyErrors[0] as TopologyError).resource).toBe(queue);
      expect(await apps.admin.consumerCount(queue)).toBe(0);
      await apps.close(strict);
    });

    it('createQueueIfNotExists: false: the existing queue is used as it is (checked, not declared)', async () => {
      await amqp.publish(names.exchange, 'existing-route', { existing: true });
      await waitFor(() => seen.existing?.length, 'handler on the existing queue');
      expect(amqp.topologyErrors).toEqual([]);
    });

    it('usePersistentReplyTo: the reply is persistent', async () => {
      const replyQueue = uniqueName('glu-reply');
      apps.admin.track('queue', replyQueue);
      await apps.admin.raw((ch) => ch.assertQueue(replyQueue, { durable: false }));
      await apps.admin.publishRaw(names.exchange, 'persistent-rpc', JSON.stringify({}), {
        replyTo: replyQueue,
        correlationId: 'p-1',
        contentType: 'application/json',
      });
      const reply = await waitFor(() => apps.admin.get(replyQueue), 'reply');
      expect(reply.properties.deliveryMode).toBe(2);
      expect(JSON.parse(reply.content.toString())).toEqual({ ok: true });
    });

    it('isRabbitContext(context) and RABBIT_CONTEXT_TYPE_KEY in an interceptor of a handler', async () => {
      await waitFor(() => seen.context?.length, 'interceptor ran');
      expect(seen.context[0]).toEqual({ isRabbit: true, type: 'rmq', key: 'rmq' });
    });
  });

  describe('AmqpConnection', () => {
    it('channel: a usable amqplib channel for topology work', async () => {
      const queue = uniqueName('glu-channel');
      apps.admin.track('queue', queue);
      await amqp.channel.assertQueue(queue, { durable: false });
      await amqp.channel.bindQueue(queue, names.exchange, 'channel-route');
      expect(await apps.admin.queueExists(queue)).toBe(true);
    });

    it('managedChannel: an amqp-connection-manager ChannelWrapper that publishes and declares', async () => {
      const queue = uniqueName('glu-managed');
      apps.admin.track('queue', queue);
      await amqp.managedChannel.assertQueue(queue, { durable: false });
      await amqp.managedChannel.sendToQueue(queue, Buffer.from('x'));
      await waitFor(async () => (await apps.admin.messageCount(queue)) === 1, 'message sent on the managed channel');
    });

    it('managedConnection, connection, connected, configuration', () => {
      expect(amqp.managedConnection.isConnected()).toBe(true);
      expect(typeof amqp.connection?.createChannel).toBe('function');
      expect(amqp.connected).toBe(true);
      expect(amqp.configuration.defaultRpcTimeout).toBe(5000);
    });

    it('init() again does nothing', async () => {
      await amqp.init();
      expect(amqp.connected).toBe(true);
    });

    it('request(): RpcTimeoutError with timeout, exchange and routingKey when nobody answers in time', async () => {
      const queue = uniqueName('glu-silent');
      apps.admin.track('queue', queue);
      await apps.admin.raw(async (ch) => {
        await ch.assertQueue(queue, { durable: false });
        await ch.bindQueue(queue, names.exchange, 'silent-route');
      });
      const error = (await amqp
        .request({ exchange: names.exchange, routingKey: 'silent-route', payload: {}, timeout: 300 })
        .catch((e: unknown) => e)) as RpcTimeoutError;
      expect(error).toBeInstanceOf(RpcTimeoutError);
      expect({ timeout: error.timeout, exchange: error.exchange, routingKey: error.routingKey }).toEqual({
        timeout: 300,
        exchange: names.exchange,
        routingKey: 'silent-route',
      });
    });

    it('channels and managedChannels: a confirm channel and a ChannelWrapper per configured channel, by name; managedChannel is the default one', async () => {
      // The fixture configures 'channel-1' (prefetchCount 15, default: true) and 'channel-2' (prefetchCount 2); init() opened them.
      expect(Object.keys(amqp.channels).sort()).toEqual(['channel-1', 'channel-2']);
      expect(Object.keys(amqp.managedChannels).sort()).toEqual(['channel-1', 'channel-2']);
      expect(amqp.managedChannel).toBe(amqp.managedChannels['channel-1']);
      expect(typeof amqp.channels['channel-1'].waitForConfirms).toBe('function');
      // Warren's own counts moved to channelCounts.
      expect(amqp.channelCounts.open).toBe(amqp.channelCounts.total);
      const queue = uniqueName('glu-channels');
      apps.admin.track('queue', queue);
      const channel = amqp.channels['channel-2'];
      await channel.assertQueue(queue, { durable: false });
      for (let i = 0; i < 5; i++) await apps.admin.publishRaw('', queue, String(i));
      // channel-2's prefetchCount (2): the broker hands its consumer two unacknowledged messages, no more.
      const held: ConsumeMessage[] = [];
      const { consumerTag } = await channel.consume(queue, (m) => m && held.push(m));
      try {
        await waitFor(async () => held.length === 2 && (await apps.admin.messageCount(queue)) === 3, 'two messages in flight, three ready');
        await channel.cancel(consumerTag);
        expect(held).toHaveLength(2);
      } finally {
        for (const m of held) channel.nack(m, false, true);
      }
      await waitFor(async () => (await apps.admin.messageCount(queue)) === 5, 'the held messages returned');
    });

    it('channels without configured channels: the default channel named AmqpConnection; nothing before init()', async () => {
      const bare = new AmqpConnection({ uri: AMQP_URL, prefetchCount: 3 });
      expect(bare.channels).toEqual({});
      expect(bare.managedChannels).toEqual({});
      await bare.init();
      try {
        expect(Object.keys(bare.managedChannels)).toEqual(['AmqpConnection']);
        await bare.managedChannel.waitForConnect();
        const channel = await waitFor(() => bare.channels.AmqpConnection, 'the default channel open');
        const queue = uniqueName('glu-default-channel');
        apps.admin.track('queue', queue);
        await channel.assertQueue(queue, { durable: false });
        expect(await apps.admin.queueExists(queue)).toBe(true);
      } finally {
        await bare.stopConsumers();
        await bare.close();
      }
    });

    describe('request({ correlationId, expiration })', () => {
      let echo: { consumerTag: string | undefined; cancel(): Promise<void> };
      const echoQueue = uniqueName('glu-echo');

      beforeAll(async () => {
        apps.admin.track('queue', echoQueue);
        // golevelup's createRpc(handler, rpcOptions): what the handler returns is the reply.
        echo = await amqp.createRpc<{ n: number }, unknown>(
          async (msg, raw) => ({ n: msg.n, correlationId: raw.properties.correlationId, expiration: raw.properties.expiration }),
          { exchange: names.exchange, routingKey: 'echo-route', queue: echoQueue, queueOptions: { durable: false } },
        );
      });

      afterAll(() => echo.cancel());

      it('createRpc: a consumer added at run time answers requests; its handle carries a consumerTag', async () => {
        expect(amqp.consumerTags).toContain(echo.consumerTag);
        await expect(amqp.request({ exchange: names.exchange, routingKey: 'echo-route', payload: { n: 1 } })).resolves.toMatchObject({ n: 1 });
      });

      it('correlationId: sent as given, and the reply is matched by it; expiration: the request message’s TTL', async () => {
        const correlationId = uniqueName('my-correlation');
        const reply = await amqp.request({ exchange: names.exchange, routingKey: 'echo-route', payload: { n: 2 }, correlationId, expiration: 4000 });
        expect(reply).toEqual({ n: 2, correlationId, expiration: '4000' });
        const asString = await amqp.request({ exchange: names.exchange, routingKey: 'echo-route', payload: { n: 3 }, expiration: '2500' });
        expect(asString).toMatchObject({ n: 3, expiration: '2500' });
      });

      it('expiration: a request nobody takes within it is dropped by the broker', async () => {
        const queue = uniqueName('glu-expiring');
        apps.admin.track('queue', queue);
        await apps.admin.raw(async (ch) => {
          await ch.assertQueue(queue, { durable: false });
          await ch.bindQueue(queue, names.exchange, 'expiring-route');
        });
        const pending = amqp
          .request({ exchange: names.exchange, routingKey: 'expiring-route', payload: {}, expiration: 100, timeout: 3000 })
          .catch((e: unknown) => e);
        await waitFor(async () => (await apps.admin.messageCount(queue)) === 1, 'the request queued');
        await waitFor(async () => (await apps.admin.messageCount(queue)) === 0, 'the request expired', 2500);
        expect(await pending).toBeInstanceOf(RpcTimeoutError);
      });

      it('hostile correlationId (not a short string, or one still waiting): MessageEncodingError for that call, the others answered', async () => {
        const good = Array.from({ length: 20 }, (_, n) => amqp.request<{ n: number }>({ exchange: names.exchange, routingKey: 'echo-route', payload: { n } }));
        const taken = uniqueName('taken');
        const first = amqp.request({ exchange: names.exchange, routingKey: 'echo-route', payload: { n: 100 }, correlationId: taken });
        const bad: unknown[] = [42, 'x'.repeat(300), { id: 1 }];
        const refused = [
          ...bad.map((correlationId) =>
            amqp.request({ exchange: names.exchange, routingKey: 'echo-route', payload: {}, correlationId: correlationId as string }).catch((e: unknown) => e),
          ),
          amqp.request({ exchange: names.exchange, routingKey: 'echo-route', payload: {}, correlationId: taken }).catch((e: unknown) => e),
          amqp.request({ exchange: names.exchange, routingKey: 'echo-route', payload: {}, expiration: -5 }).catch((e: unknown) => e),
        ];
        const errors = (await Promise.all(refused)) as MessageEncodingError[];
        for (const error of errors) expect(error).toBeInstanceOf(MessageEncodingError);
        expect(errors.map((e) => e.field)).toEqual(['correlationId', 'correlationId', 'correlationId', 'correlationId', 'expiration']);
        expect((await Promise.all(good)).map((r) => r.n)).toEqual(Array.from({ length: 20 }, (_, n) => n));
        await expect(first).resolves.toMatchObject({ n: 100, correlationId: taken });
        // Once answered, the id is free again.
        await expect(amqp.request({ exchange: names.exchange, routingKey: 'echo-route', payload: { n: 101 }, correlationId: taken })).resolves.toMatchObject({
          n: 101,
        });
      });
    });

    it('createSubscriber(handler, msgOptions, originalHandlerName): a consumer added at run time gets (msg, raw, headers); cancelConsumer(consumerTag) stops it', async () => {
      const queue = uniqueName('glu-tenant');
      apps.admin.track('queue', queue);
      const received: Array<{ msg: unknown; routingKey: string; tenant: unknown }> = [];
      const { consumerTag } = await amqp.createSubscriber<{ tenant: string }>(
        async (msg, raw, headers) => {
          received.push({ msg, routingKey: raw.fields.routingKey, tenant: headers['x-tenant'] });
        },
        { exchange: names.exchange, routingKey: 'tenant-route', queue, queueOptions: { durable: false } },
        'tenantHandler',
      );
      expect(amqp.consumerTags).toContain(consumerTag);
      await amqp.publish(names.exchange, 'tenant-route', { tenant: 'acme' }, { headers: { 'x-tenant': 'acme' } });
      await waitFor(() => received.length === 1, 'the run-time subscriber');
      expect(received[0]).toEqual({ msg: { tenant: 'acme' }, routingKey: 'tenant-route', tenant: 'acme' });
      await amqp.cancelConsumer(consumerTag!);
      await waitFor(async () => (await apps.admin.consumerCount(queue)) === 0, 'consumer cancelled');
      await amqp.publish(names.exchange, 'tenant-route', { tenant: 'later' });
      await waitFor(async () => (await apps.admin.messageCount(queue)) === 1, 'left in the queue');
      expect(received).toHaveLength(1);
    });

    it('createBatchSubscriber(handler, { batchOptions: { size, timeout } }): arrays of up to size; a partial batch after timeout; all acked', async () => {
      const queue = uniqueName('glu-batch-rt');
      apps.admin.track('queue', queue);
      const batches: number[][] = [];
      const handle = await amqp.createBatchSubscriber<{ n: number }>(
        async (msgs, raws) => {
          expect(raws).toHaveLength(msgs.length);
          batches.push(msgs.map((m) => m.n));
        },
        { exchange: names.exchange, routingKey: 'batch-rt-route', queue, queueOptions: { durable: false }, batchOptions: { size: 3, timeout: 200 } },
      );
      try {
        for (let n = 0; n < 4; n++) await amqp.publish(names.exchange, 'batch-rt-route', { n });
        await waitFor(() => batches.flat().length === 4, 'four messages handled');
        expect(batches).toEqual([[0, 1, 2], [3]]);
        await waitFor(async () => (await apps.admin.messageCount(queue)) === 0, 'all acked');
      } finally {
        await handle.cancel();
      }
    });

    it('a batch handler that throws: every message of the batch is settled by errorBehavior (REQUEUE: all redelivered)', async () => {
      const queue = uniqueName('glu-batch-fail');
      apps.admin.track('queue', queue);
      const batches: number[][] = [];
      const handle = await amqp.createBatchSubscriber<{ n: number }>(
        async (msgs) => {
          batches.push(msgs.map((m) => m.n));
          if (batches.length === 1) throw new Error('the whole batch fails once');
        },
        {
          exchange: names.exchange,
          routingKey: 'batch-fail-route',
          queue,
          queueOptions: { durable: false },
          errorBehavior: MessageHandlerErrorBehavior.REQUEUE,
          batchOptions: { size: 3, timeout: 200 },
        },
      );
      try {
        for (let n = 0; n < 3; n++) await amqp.publish(names.exchange, 'batch-fail-route', { n });
        await waitFor(() => batches.length >= 2, 'the batch redelivered');
        expect(batches.map((b) => [...b].sort())).toEqual([
          [0, 1, 2],
          [0, 1, 2],
        ]);
        await waitFor(async () => (await apps.admin.messageCount(queue)) === 0, 'all acked the second time');
      } finally {
        await handle.cancel();
      }
    });

    it('consumerTags, cancelConsumer(consumerTag) and resumeConsumer(consumerTag)', async () => {
      await amqp.cancelConsumer(names.handlerTag);
      expect(amqp.consumerTags).not.toContain(names.handlerTag);
      await waitFor(async () => (await apps.admin.consumerCount(names.taggedQueue)) === 0, 'consumer cancelled');
      await amqp.resumeConsumer(names.handlerTag);
      await waitFor(async () => (await apps.admin.consumerCount(names.taggedQueue)) === 1, 'consumer resumed');
    });
  });

  describe('helpers and enums', () => {
    it('@RabbitSubscribe({ batchOptions: { size, timeout } }): the handler gets an array; all acked after it returns', async () => {
      const queue = uniqueName('glu-batch');
      apps.admin.track('queue', queue);
      const batches: unknown[][] = [];
      @Injectable()
      class Batched {
        @RabbitSubscribe({
          exchange: names.exchange,
          routingKey: 'batch-route',
          queue,
          queueOptions: { durable: false },
          batchOptions: { size: 5, timeout: 150 },
        })
        on(messages: unknown[]) {
          batches.push(messages);
        }
      }
      const batched = await apps.boot({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, prefetchCount: 10 })], providers: [Batched] });
      for (let n = 0; n < 7; n++) await amqp.publish(names.exchange, 'batch-route', { n });
      await waitFor(() => batches.flat().length === 7, 'seven messages in batches');
      expect(batches.map((b) => b.length)).toEqual([5, 2]);
      expect(batches.flat()).toEqual(Array.from({ length: 7 }, (_, n) => ({ n })));
      await waitFor(async () => (await apps.admin.messageCount(queue)) === 0, 'all acked');
      await apps.close(batched);
    });

    it('createPipesRpcParamDecorator(data, RABBIT_PARAM_TYPE | RABBIT_HEADER_TYPE | RABBIT_REQUEST_TYPE, ...pipes)', async () => {
      expect([RABBIT_PARAM_TYPE, RABBIT_HEADER_TYPE, RABBIT_REQUEST_TYPE]).toEqual([3, 4, 5]);
      const queue = uniqueName('glu-pipes');
      apps.admin.track('queue', queue);
      const received: unknown[] = [];
      @Injectable()
      class Piped {
        @RabbitSubscribe({ exchange: names.exchange, routingKey: 'pipes-route', queue, queueOptions: { durable: false } })
        on(
          @createPipesRpcParamDecorator('count', RABBIT_PARAM_TYPE, ParseIntPipe) count: number,
          @createPipesRpcParamDecorator('x-tenant', RABBIT_HEADER_TYPE) tenant: string,
          @createPipesRpcParamDecorator('fields', RABBIT_REQUEST_TYPE) fields: { routingKey: string },
          @createPipesRpcParamDecorator() whole: unknown,
        ) {
          received.push({ count, tenant, routingKey: fields.routingKey, whole });
        }
      }
      const piped = await apps.boot({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL })], providers: [Piped] });
      await amqp.publish(names.exchange, 'pipes-route', { count: '42' }, { headers: { 'x-tenant': 'acme' } });
      await waitFor(() => received.length, 'handler with golevelup-made parameter decorators');
      expect(received[0]).toEqual({ count: 42, tenant: 'acme', routingKey: 'pipes-route', whole: { count: '42' } });
      await apps.close(piped);
      expect(() => createPipesRpcParamDecorator('x', 99)).toThrow(InvalidOptionsError);
    });

    it('error classes: RpcTimeoutError, ChannelNotAvailableError, ConnectionNotAvailableError, NullMessageError', async () => {
      const idle = new AmqpConnection({ uri: AMQP_URL });
      const noManager = (() => idle.managedConnection) as () => unknown;
      expect(noManager).toThrow(ConnectionNotAvailableError);
      expect(noManager).toThrow(ConnectionClosedError);
      expect(() => idle.channel).toThrow(ChannelNotAvailableError);
      expect(() => idle.channel).toThrow(ConnectionClosedError);
      const errors = [new ChannelNotAvailableError('default'), new ConnectionNotAvailableError('default'), new NullMessageError()];
      expect(errors.map((e) => [e.name, e.code, e instanceof WarrenError])).toEqual([
        ['ChannelNotAvailableError', 'CHANNEL_NOT_AVAILABLE', true],
        ['ConnectionNotAvailableError', 'CONNECTION_NOT_AVAILABLE', true],
        ['NullMessageError', 'NULL_MESSAGE', true],
      ]);
    });

    it('MessageHandlerErrorBehavior has golevelup’s values', () => {
      expect({ ...MessageHandlerErrorBehavior }).toEqual({ ACK: 'ACK', NACK: 'NACK', REQUEUE: 'REQUEUE' });
    });

    it('ackErrorHandler: the failed message is acked, not redelivered', async () => {
      await amqp.publish(names.exchange, 'ack-route', {});
      await waitFor(() => seen.ackOnError?.length, 'handler ran');
      await waitFor(async () => (await apps.admin.messageCount(names.ackQueue)) === 0, 'acked');
      expect(seen.ackOnError).toHaveLength(1);
    });

    it('defaultNackErrorHandler: the failed message is rejected to the dead-letter exchange', async () => {
      await amqp.publish(names.exchange, 'nack-error-route', { parked: true });
      const parked = await waitFor(() => apps.admin.get(names.parkingQueue), 'dead-lettered message');
      expect(JSON.parse(parked.content.toString())).toEqual({ parked: true });
    });

    it('requeueErrorHandler and getHandlerForLegacyBehavior(REQUEUE): the failed message is redelivered', async () => {
      await amqp.publish(names.exchange, 'requeue-error-route', {});
      await amqp.publish(names.exchange, 'legacy-route', {});
      await waitFor(() => seen.requeueOnError?.includes(true) && seen.legacy?.includes(true), 'redeliveries');
    });

    it('RabbitHandler({ type: "subscribe", ... }) (golevelup types it so that TypeScript refuses it on a method; Warren accepts it)', async () => {
      const queue = uniqueName('glu-typed');
      apps.admin.track('queue', queue);
      const received: unknown[] = [];
      @Injectable()
      class Typed {
        @RabbitHandler({ type: 'subscribe', exchange: names.exchange, routingKey: 'typed-route', queue })
        on(msg: unknown) {
          received.push(msg);
        }
      }
      const typed = await apps.boot({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL })], providers: [Typed] });
      await amqp.publish(names.exchange, 'typed-route', { typed: true });
      await waitFor(() => received.length, 'handler declared with RabbitHandler({ type })');
      await apps.close(typed);
    });

    it('makeRabbitDecorator({ type, ...fixed }): a decorator that takes the other options', async () => {
      await amqp.publish(names.exchange, 'made-route', { made: true });
      await waitFor(() => seen.made?.length, 'handler of the made decorator');
    });

    it('InjectRabbitMQConfig(), AmqpConnectionManager (getConnection, getConnections), PRECONDITION_FAILED_CODE', () => {
      const introspection = app.get(fixture.Introspection);
      expect(introspection.config.defaultRpcTimeout).toBe(5000);
      expect(introspection.connectionNames()).toEqual(['default']);
      expect(introspection.manager.getConnection('default')).toBe(amqp);
      expect(introspection.manager.getConnection('nope')).toBeUndefined();
      expect(introspection.isPreconditionFailed({ replyCode: 406 })).toBe(true);
    });

    it('RabbitMQModule.attach(new AmqpConnection(config)): an outside connection, injectable, runs the handlers', async () => {
      const queue = uniqueName('glu-attached');
      apps.admin.track('queue', queue);
      const received: unknown[] = [];
      @Injectable()
      class Attached {
        @RabbitSubscribe({ exchange: names.exchange, routingKey: 'attached-route', queue })
        on(msg: unknown) {
          received.push(msg);
        }
      }
      const connection = new AmqpConnection({ uri: AMQP_URL, defaultSubscribeErrorBehavior: MessageHandlerErrorBehavior.NACK });
      await connection.init();
      @Module({ imports: [RabbitMQModule.attach(connection)], providers: [Attached] })
      class AttachedModule {}
      const attached = await apps.boot({ imports: [AttachedModule] });
      expect(attached.get(getConnectionToken())).toBe(connection);
      await amqp.publish(names.exchange, 'attached-route', { attached: true });
      await waitFor(() => received.length, 'attached handler');
      await apps.close(attached);
      expect(connection.connected).toBe(false);
    });
  });
});
