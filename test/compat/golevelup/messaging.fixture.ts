/**
 * An application written for @golevelup/nestjs-rabbitmq 9, following its README, with ONE change:
 * the import below names @warren/rabbitmq. golevelup.e2e-spec.ts checks that this file still
 * type-checks against golevelup with that import put back, then runs it on Warren.
 * Names come from the environment of the test (unique per run).
 */
/* eslint-disable @typescript-eslint/no-empty-object-type -- handler signatures as golevelup's README writes them */
import { CallHandler, ExecutionContext, Injectable, Module, NestInterceptor, UseInterceptors, type DynamicModule } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import {
  AmqpConnection,
  AmqpConnectionManager,
  InjectRabbitMQConfig,
  PRECONDITION_FAILED_CODE,
  makeRabbitDecorator,
  MessageHandlerErrorBehavior,
  Nack,
  RabbitHeader,
  RabbitMQModule,
  RabbitPayload,
  RabbitRequest,
  RabbitRPC,
  RabbitSubscribe,
  ackErrorHandler,
  defaultNackErrorHandler,
  forceDeleteAssertQueueErrorHandler,
  getHandlerForLegacyBehavior,
  isRabbitContext,
  requeueErrorHandler,
  RABBIT_CONTEXT_TYPE_KEY,
} from '@warren/rabbitmq';

/** The names one run uses; set before the fixture is imported. */
export const N = JSON.parse(process.env.GOLEVELUP_FIXTURE_NAMES ?? '{}') as Record<string, string>;

/** What the handlers saw, for the test to read. */
export const seen: Record<string, unknown[]> = {};
function record(key: string, value: unknown): void {
  (seen[key] ??= []).push(value);
}

/** Every call of errorHandler: (channel given?, message, error) */
export function recordingErrorHandler(channel: Channel, msg: ConsumeMessage, error: any): void {
  record('errorHandler', { hasAck: typeof channel.ack === 'function', routingKey: msg.fields.routingKey, error: String(error?.message ?? error) });
  channel.ack(msg);
}

/** The module's defaultRpcErrorHandler: records, then acks the failed request. */
export function recordingRpcErrorHandler(channel: Channel, msg: ConsumeMessage, error: any): void {
  record('rpcErrorHandler', { routingKey: msg.fields.routingKey, error: String(error?.message ?? error) });
  channel.ack(msg);
}

@Injectable()
export class ContextInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler<any>) {
    record('context', { isRabbit: isRabbitContext(context), type: context.getType(), key: RABBIT_CONTEXT_TYPE_KEY });
    return next.handle();
  }
}

/** A team decorator, made as golevelup's README for custom decorators does. */
const ModuleRouteSubscribe = makeRabbitDecorator({ type: 'subscribe', exchange: N.exchange });

@Injectable()
export class MessagingService {
  @ModuleRouteSubscribe({ routingKey: 'made-route', queue: N.madeQueue })
  public async madeHandler(msg: {}) {
    record('made', msg);
  }

  @RabbitSubscribe({ exchange: N.exchange, routingKey: 'subscribe-route', queue: N.subscribeQueue })
  @UseInterceptors(ContextInterceptor)
  public async pubSubHandler(msg: {}, amqpMsg: ConsumeMessage) {
    record('pubSub', { msg, correlationId: amqpMsg.properties.correlationId, priority: amqpMsg.properties.priority });
  }

  @RabbitRPC({ exchange: N.exchange, routingKey: 'rpc-route', queue: N.rpcQueue })
  public async rpcHandler(msg: { n: number }) {
    return { response: msg.n * 2 };
  }

  @RabbitSubscribe({
    queue: N.multiQueue,
    bindings: [
      { exchange: N.exchange, routingKey: 'route.a' },
      { exchange: N.exchange2, routingKey: 'route.b' },
    ],
  })
  public async multiExchangeHandler(msg: { from: string }) {
    record('multi', msg.from);
  }

  @RabbitSubscribe({ exchange: N.exchange, routingKey: 'params-route', queue: N.paramsQueue })
  public async paramsHandler(
    @RabbitPayload('id') id: string,
    @RabbitHeader('x-tenant') tenant: string,
    @RabbitRequest('properties') properties: ConsumeMessage['properties'],
    @RabbitRequest() raw: ConsumeMessage,
  ) {
    record('params', { id, tenant, messageId: properties.messageId, routingKey: raw.fields.routingKey });
  }

  @RabbitSubscribe({ exchange: N.exchange, routingKey: 'nack-route', queue: N.nackQueue })
  public async nackHandler(msg: { requeue: boolean }, amqpMsg: ConsumeMessage) {
    record('nack', { requeue: msg.requeue, redelivered: amqpMsg.fields.redelivered });
    if (amqpMsg.fields.redelivered) return;
    return new Nack(msg.requeue);
  }

  @RabbitSubscribe({
    exchange: N.exchange,
    routingKey: 'requeue-route',
    queue: N.requeueQueue,
    errorBehavior: MessageHandlerErrorBehavior.REQUEUE,
  })
  public async requeueHandler(msg: {}, amqpMsg: ConsumeMessage) {
    record('requeue', amqpMsg.fields.redelivered);
    if (!amqpMsg.fields.redelivered) throw new Error('first delivery fails');
  }

  @RabbitSubscribe({ exchange: N.exchange, routingKey: 'handler-route', queue: N.errorHandlerQueue, errorHandler: recordingErrorHandler })
  public async customErrorHandler() {
    throw new Error('handled by errorHandler');
  }

  @RabbitSubscribe({
    exchange: N.exchange,
    routingKey: 'legacy-route',
    queue: N.legacyQueue,
    errorHandler: getHandlerForLegacyBehavior(MessageHandlerErrorBehavior.REQUEUE),
  })
  public async legacyHandler(msg: {}, amqpMsg: ConsumeMessage) {
    record('legacy', amqpMsg.fields.redelivered);
    if (!amqpMsg.fields.redelivered) throw new Error('first delivery fails');
  }

  @RabbitSubscribe({ exchange: N.exchange, routingKey: 'ack-route', queue: N.ackQueue, errorHandler: ackErrorHandler })
  public async ackOnError() {
    record('ackOnError', true);
    throw new Error('acked anyway');
  }

  @RabbitSubscribe({
    exchange: N.exchange,
    routingKey: 'nack-error-route',
    queue: N.nackErrorQueue,
    errorHandler: defaultNackErrorHandler,
    queueOptions: { deadLetterExchange: '', deadLetterRoutingKey: N.parkingQueue },
  })
  public async nackOnError() {
    throw new Error('nacked');
  }

  @RabbitSubscribe({ exchange: N.exchange, routingKey: 'requeue-error-route', queue: N.requeueErrorQueue, errorHandler: requeueErrorHandler })
  public async requeueOnError(msg: {}, amqpMsg: ConsumeMessage) {
    record('requeueOnError', amqpMsg.fields.redelivered);
    if (!amqpMsg.fields.redelivered) throw new Error('first delivery fails');
  }

  @RabbitSubscribe({ exchange: N.exchange, routingKey: 'raw-route', queue: N.rawQueue, allowNonJsonMessages: true })
  public async rawHandler(msg: any) {
    record('raw', Buffer.isBuffer(msg) ? msg.toString() : msg);
  }

  @RabbitSubscribe({
    exchange: N.exchange,
    routingKey: 'deserializer-route',
    queue: N.deserializerQueue,
    deserializer: (message: Buffer, msg: ConsumeMessage) => ({ text: message.toString().toUpperCase(), key: msg.fields.routingKey }),
  })
  public async deserializerHandler(msg: { text: string; key: string }) {
    record('deserializer', msg);
  }

  @RabbitSubscribe({
    exchange: N.exchange,
    routingKey: 'tagged-route',
    queue: N.taggedQueue,
    queueOptions: { channel: 'channel-2', consumerOptions: { consumerTag: N.handlerTag } },
  })
  public async taggedHandler(msg: {}) {
    record('tagged', msg);
  }

  @RabbitSubscribe({
    exchange: N.exchange,
    routingKey: 'force-route',
    queue: N.conflictQueue,
    queueOptions: { messageTtl: 60000 },
    assertQueueErrorHandler: forceDeleteAssertQueueErrorHandler,
  })
  public async forcedHandler(msg: {}) {
    record('forced', msg);
  }

  @RabbitSubscribe({ exchange: N.exchange, routingKey: 'existing-route', queue: N.existingQueue, createQueueIfNotExists: false })
  public async existingQueueHandler(msg: {}) {
    record('existing', msg);
  }

  @RabbitSubscribe({ queue: N.moduleQueue })
  public async moduleQueueHandler(msg: {}) {
    record('moduleQueue', msg);
  }

  @RabbitSubscribe({ name: 'configured' })
  public async configuredHandler(msg: {}) {
    record('configured', msg);
  }

  @RabbitRPC({ exchange: N.exchange, routingKey: 'failing-rpc', queue: N.failingRpcQueue })
  public async failingRpc() {
    throw new Error('rpc failed');
  }

  @RabbitRPC({ exchange: N.exchange, routingKey: 'persistent-rpc', queue: N.persistentRpcQueue, usePersistentReplyTo: true })
  public async persistentRpc() {
    return { ok: true };
  }
}

/** The module, configured as golevelup's README shows. */
export function golevelupModule(): DynamicModule {
  return RabbitMQModule.forRoot({
    uri: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    exchanges: [{ name: N.exchange, type: 'topic' }, { name: N.exchange2 }, { name: N.exchange3, type: 'fanout', createExchangeIfNotExists: true }],
    defaultExchangeType: 'topic',
    exchangeBindings: [{ source: N.exchange3, destination: N.exchange, pattern: '#' }],
    queues: [{ name: N.moduleQueue, options: { durable: true }, exchange: N.exchange, routingKey: 'module-route', consumerTag: N.moduleTag }],
    channels: { 'channel-1': { prefetchCount: 15, default: true }, 'channel-2': { prefetchCount: 2 } },
    prefetchCount: 10,
    connectionInitOptions: { wait: true, timeout: 10000, reject: true },
    connectionManagerOptions: { heartbeatIntervalInSeconds: 7, reconnectTimeInSeconds: 1 },
    enableDirectReplyTo: true,
    defaultRpcTimeout: 5000,
    defaultSubscribeErrorBehavior: MessageHandlerErrorBehavior.NACK,
    defaultRpcErrorHandler: recordingRpcErrorHandler,
    defaultPublishOptions: { priority: 4 },
    handlers: { configured: { exchange: N.exchange, routingKey: 'configured-route', queue: N.configuredQueue } },
    registerHandlers: true,
    enableControllerDiscovery: false,
  });
}

/** Reads the module's configuration and the connections, golevelup's way. */
@Injectable()
export class Introspection {
  constructor(
    @InjectRabbitMQConfig() readonly config: { defaultRpcTimeout?: number },
    readonly manager: AmqpConnectionManager,
  ) {}

  connectionNames(): string[] {
    return this.manager.getConnections().map((connection) => connection.configuration.name ?? 'default');
  }

  isPreconditionFailed(error: { replyCode?: number }): boolean {
    return error.replyCode === PRECONDITION_FAILED_CODE;
  }
}

/** A publisher, as in golevelup's README. */
@Injectable()
export class Publisher {
  constructor(private readonly amqpConnection: AmqpConnection) {}

  async hello(): Promise<void> {
    await this.amqpConnection.publish(N.exchange, 'subscribe-route', { msg: 'hello world' }, { correlationId: 'c-1' });
  }

  async double(n: number): Promise<number> {
    const response = await this.amqpConnection.request<{ response: number }>({ exchange: N.exchange, routingKey: 'rpc-route', payload: { n }, timeout: 10000 });
    return response.response;
  }
}

@Module({ imports: [golevelupModule()], providers: [MessagingService, Introspection] })
export class RabbitExampleModule {}
