import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { Channel, ChannelModel, ConfirmChannel, Options } from 'amqplib';
import type { Observable } from 'rxjs';
import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { RabbitMQModuleOptions } from '../options/rabbitmq-options.interface';
import { ConsumerRegistry, type RouteEnhancer } from '../consumer/consumer-registry';
import type { HandlerDescriptor } from '../consumer/handler-descriptor';
import type { HandlerStats } from '../consumer/handler-stats';
import { ConnectionClosedError } from '../errors/connection-closed.error';
import { ChannelNotAvailableError } from '../errors/channel-not-available.error';
import { ConnectionNotAvailableError } from '../errors/connection-not-available.error';
import { MessageEncodingError } from '../errors/message-encoding.error';
import { MessageTooLargeError } from '../errors/message-too-large.error';
import { resolveOptions, type ResolvedOptions } from '../options/resolve-options';
import { MessageIdSequence } from '../publisher/message-id';
import { Publisher } from '../publisher/publisher';
import type { Serializer } from '../message/serializer';
import { RpcClient } from '../rpc/rpc-client';
import { TopologyDeclarer } from '../topology/topology-declarer';
import { outcomeOf, TelemetryHub } from '../observability/telemetry-hub';
import { ConnectionHost } from '../connection/connection-host';
import { settleWithin } from '../connection/settle-within';
import type { ConnectionStatus } from '../connection/connection-status';
import type { ManagedChannel } from '../connection/managed-channel';
import { ConsumerHandle, type CancelConsumerOptions } from '../consumer/consumer-handle';
import type { HandlerKind } from '../consumer/handler-descriptor';
import type { QueueConsumer } from '../consumer/queue-consumer';
import { ConnectionNotStartedError } from '../errors/connection-not-started.error';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { resolveHandlerConfig } from '../options/golevelup-names';
import { toInvalidOptions } from '../options/option-shape';
import type { RabbitHandlerConfig } from '../options/rabbitmq-options.interface';
import type { BatchSubscribeHandler, BatchSubscribeOptions, RpcHandler, SubscribeHandler, SubscribeOptions } from './runtime-handler';
import { deadLetterOptionsOf } from '../dead-letter/dead-letter.enhancer';
import { RetryPolicy } from '../retry/retry-policy';
import { waitQueueName } from '../reliability/wait-queues';
import type { HandlerDescription } from './handler-description';
import { PARTITION_HEADER, partitionSlotOf } from '../message/partition';

/** Options of one publish; amqplib's publish options plus Warren's. */
export interface PublishOptions extends Options.Publish {
  /** ms to wait for the confirm. @default the module's publishOptions.timeout */
  timeout?: number;
  /** Serializer for this message. @default the module's */
  serializer?: Serializer;
  /**
   * Routes the message to one partition of every partitioned handler it reaches: messages with the
   * same key land in the same partition and are handled in publish order. Sets the `warren-partition`
   * header (the key's hash slot); handlers without partitions ignore it.
   */
  partitionKey?: string;
}

/** One message of a batch publish. */
export interface BatchMessage<T = unknown> {
  exchange: string;
  routingKey: string;
  message: T;
  options?: PublishOptions;
}

/** What a batch publish achieved: every message confirmed, or which failed and why. */
export interface BatchPublishResult {
  confirmed: number;
  failed: Array<{ index: number; error: Error }>;
}

/** A request/reply call. */
export interface RequestOptions<T = unknown> {
  exchange: string;
  routingKey: string;
  payload?: T;
  /** ms to wait for the reply. @default the module's defaultRpcTimeout */
  timeout?: number;
  headers?: Record<string, unknown>;
  /**
   * The request's correlation id (golevelup's `correlationId`): sent as the message's `correlationId`,
   * and the reply is matched by it. A short string (at most 255 bytes), unique among this connection's
   * requests waiting for a reply; anything else rejects this request with MessageEncodingError.
   * @default a fresh id per request
   */
  correlationId?: string;
  /**
   * The request message's TTL in ms (golevelup's `expiration`): a request no server took within it is
   * dropped by the broker. A whole number of ms, as a number or a string.
   * @default the request's timeout: a request nobody can answer in time is not left in the queue
   */
  expiration?: string | number;
  /** Further message properties (priority, messageId, ...). */
  publishOptions?: Omit<Options.Publish, 'correlationId' | 'replyTo' | 'expiration' | 'headers'>;
}

/**
 * One connection to RabbitMQ: publish with confirms, request/reply over direct
 * reply-to, connection state, and control of its consumers. The default
 * connection is injectable as `AmqpConnection`; named ones with
 * `@InjectAmqpConnection('name')` or through `AmqpConnectionRegistry`.
 */
export class AmqpConnection {
  private readonly logger: Logger;
  private readonly host: ConnectionHost;
  private readonly topology = new TopologyDeclarer();
  private readonly publisher: Publisher;
  private readonly messageIds = new MessageIdSequence();
  private readonly rpcClient: RpcClient;
  private readonly consumers: ConsumerRegistry;
  private readonly enhancers: RouteEnhancer[] = [];
  private readonly setupErrors: Error[] = [];
  private readonly telemetry: TelemetryHub | undefined;
  private shutdownDeadline: number | undefined;
  /** golevelup's channels (`managedChannels`), by name; opened by init() when `channels` are configured, else on first use. */
  private golevelupWrappers: Map<string, ChannelWrapper> | undefined;
  /** The open amqplib channel under each of them (golevelup's `channels`). */
  private readonly golevelupChannels: Record<string, ConfirmChannel> = {};
  private readonly hasPublishDefaults: boolean;
  /** The module's publish defaults that apply to requests (a request's reply routing and expiry are its own); undefined when none. */
  private readonly requestDefaults: Options.Publish | undefined;
  /** The expiration of a request with the default timeout, encoded once. */
  private readonly defaultExpiration: string;

  /** Options with every default applied. */
  readonly options: ResolvedOptions;

  /**
   * Built by the module; `new AmqpConnection({ uri, ... })` (golevelup's way, then `init()` and
   * `RabbitMQModule.attach(connection)`) validates the options as `forRoot` does.
   */
  constructor(given: ResolvedOptions | RabbitMQModuleOptions) {
    const resolved = isResolved(given) ? given : resolveOptions(given);
    this.options = resolved;
    const options = resolved;
    this.hasPublishDefaults = Object.keys(options.publishProperties).length > 0;
    const requestDefaults: Options.Publish = { ...options.publishProperties };
    for (const key of ['headers', 'expiration', 'replyTo', 'correlationId'] as const) delete requestDefaults[key];
    this.requestDefaults = Object.keys(requestDefaults).length > 0 ? requestDefaults : undefined;
    this.defaultExpiration = String(options.rpcTimeout);
    this.logger = new Logger(`RabbitMQ:${options.name}`);
    this.host = new ConnectionHost(this.options, this.logger, (error, channel) => this.onSetupError(error, channel));
    void this.host.topologyChannel.addSetup(() => this.declareModuleTopology());
    this.publisher = new Publisher(this.host, options.name);
    this.rpcClient = new RpcClient(this.host, options.name, options.serializer, options.directReplyTo);
    this.telemetry = TelemetryHub.create(options.telemetry);
    this.consumers = new ConsumerRegistry(this.host, options, this.topology, this.enhancers, this.telemetry, (exchange, routingKey, content, publishOptions) =>
      this.publishRaw(exchange, routingKey, content, publishOptions),
    );
    const telemetry = this.telemetry;
    if (telemetry) this.host.status$.subscribe((status) => telemetry.connectionStatus(options.name, status));
  }

  /** The connection's name ('default' unless named). */
  get name(): string {
    return this.options.name;
  }

  /** Emits the connection state on every change; the current state first. */
  get status$(): Observable<ConnectionStatus> {
    return this.host.status$.asObservable();
  }

  get status(): ConnectionStatus {
    return this.host.status$.value;
  }

  get isConnected(): boolean {
    return this.host.isConnected;
  }

  /** True while the broker blocks publishing on this connection (a memory or disk alarm); `isConnected` stays true. */
  get isBlocked(): boolean {
    return this.host.isBlocked;
  }

  /** The broker's reason while it blocks the connection ('low on memory', 'low on disk'); otherwise undefined. */
  get blockedReason(): string | undefined {
    return this.host.blockedReason;
  }

  /** The raw amqplib connection while connected (escape hatch). */
  get connection(): ChannelModel | undefined {
    return this.host.connection;
  }

  /** The options this connection was given, as given (golevelup's `configuration`). */
  get configuration(): RabbitMQModuleOptions {
    return this.options.given;
  }

  /** Same as `isConnected` (golevelup's name). */
  get connected(): boolean {
    return this.isConnected;
  }

  /**
   * A plain amqplib channel for topology work (`assertQueue`, `bindQueue`, `checkQueue`, `deleteQueue`...),
   * as golevelup's `amqpConnection.channel`. It is OUTSIDE Warren's guarantees: no confirms, no typed
   * errors, and a refused operation makes the broker close it (it is reopened within a second, and the
   * module's topology declared again). For publishing use `publish`; for one-off work `withChannel`.
   * Throws ChannelNotAvailableError (golevelup's error; a ConnectionClosedError too) while the connection is not connected.
   */
  get channel(): Channel {
    const channel = this.host.topologyChannel.channel;
    if (!channel) throw new ChannelNotAvailableError(this.name);
    return channel;
  }

  /**
   * golevelup's default managed channel: `managedChannels[name]` of the channel configured with
   * `default: true`, else of 'AmqpConnection'. An amqp-connection-manager ChannelWrapper (confirm
   * channel) whose setups (`addSetup`) are replayed on reconnect. OUTSIDE Warren's guarantees, like `channel`.
   */
  get managedChannel(): ChannelWrapper {
    const wrappers = this.openGolevelupChannels();
    return wrappers.get(this.golevelupDefaultChannel)!;
  }

  /**
   * golevelup's `managedChannels`: one amqp-connection-manager ChannelWrapper (confirm channel, with the
   * channel's `prefetchCount`) per configured `channels` entry, plus 'AmqpConnection' when none is
   * `default: true`. Opened by init() when `channels` are configured, else on first use of this,
   * `channels` or `managedChannel`; empty before init(). Warren's handlers that name a `channel` do not
   * consume on these but on Warren channels of the same name and prefetch (see `channelCounts`).
   * OUTSIDE Warren's guarantees, like `channel`.
   */
  get managedChannels(): Record<string, ChannelWrapper> {
    if (!this.isStarted || (this.golevelupWrappers === undefined && this.status === 'closed')) return {};
    return Object.fromEntries(this.openGolevelupChannels());
  }

  /**
   * golevelup's `channels`: the amqplib confirm channel open now under each of `managedChannels`, by the
   * same names (a channel is missing while it opens: `await amqp.managedChannels[name].waitForConnect()`).
   * For topology work and checks (`checkQueue`, `assertQueue`); OUTSIDE Warren's guarantees, like `channel`.
   * Warren's own channel counts are `channelCounts`.
   */
  get channels(): Record<string, ConfirmChannel> {
    if (!this.isStarted || (this.golevelupWrappers === undefined && this.status === 'closed')) return {};
    this.openGolevelupChannels();
    return { ...this.golevelupChannels };
  }

  /** golevelup's name of the default channel: the one configured `default: true`, else 'AmqpConnection'. */
  private get golevelupDefaultChannel(): string {
    return this.options.defaultChannel ?? GOLEVELUP_DEFAULT_CHANNEL;
  }

  private openGolevelupChannels(): Map<string, ChannelWrapper> {
    if (this.golevelupWrappers) return this.golevelupWrappers;
    const manager = this.managedConnection;
    const wrappers = new Map<string, ChannelWrapper>();
    const names = [this.golevelupDefaultChannel, ...Object.keys(this.options.channels).filter((n) => n !== this.golevelupDefaultChannel)];
    for (const name of names) {
      const prefetch = this.options.channels[name]?.prefetchCount ?? this.options.prefetchCount;
      const wrapper = manager.createChannel({
        name,
        confirm: true,
        setup: async (channel: ConfirmChannel) => {
          // A refused operation closes the channel (the wrapper reopens it): not a process-wide 'error'.
          channel.on('error', () => undefined);
          channel.once('close', () => {
            if (this.golevelupChannels[name] === channel) delete this.golevelupChannels[name];
          });
          await channel.prefetch(prefetch);
          this.golevelupChannels[name] = channel;
        },
      });
      wrapper.on('error', (error: Error) => this.logger.warn(`Channel '${name}' (managedChannels): ${error.message}`));
      wrappers.set(name, waitingForConnect(wrapper));
    }
    this.golevelupWrappers = wrappers;
    return wrappers;
  }

  /**
   * amqp-connection-manager's connection manager under this connection (golevelup's `managedConnection`); OUTSIDE
   * Warren's guarantees. Throws ConnectionNotAvailableError (a ConnectionClosedError too) before init().
   */
  get managedConnection(): AmqpConnectionManager {
    const manager = this.host.manager;
    if (!manager) throw new ConnectionNotAvailableError(this.name);
    return manager;
  }

  /** Tags of the consumers consuming now; `cancelConsumer` and `resumeConsumer` take a tag as well as a handler name. */
  get consumerTags(): string[] {
    return this.consumers.tags();
  }

  /**
   * Warren's channels open and in all (topology, publisher, consumers, request/reply): fewer open than
   * in all means a consumer or the publisher is (re)connecting or failed. golevelup's channels are not counted.
   */
  get channelCounts(): { open: number; total: number } {
    return this.host.channelCounts();
  }

  /** Errors of declarations that failed (conflicting queue arguments, missing permissions), newest last. */
  get topologyErrors(): readonly Error[] {
    return this.setupErrors;
  }

  /** Whether init() has been called. */
  get isStarted(): boolean {
    return this.host.manager !== undefined;
  }

  /** Connects; with `connectionInitOptions.wait` fails with ConnectionFailedError after its timeout. A second call does nothing. */
  async init(): Promise<void> {
    if (this.isStarted) return;
    await this.host.start();
    // golevelup opens its configured channels at init(); so does Warren, for those who configure them.
    if (Object.keys(this.options.channels).length > 0) {
      const wrappers = [...this.openGolevelupChannels().values()];
      if (this.options.wait && this.isConnected) await settleWithin(Promise.all(wrappers.map((w) => w.waitForConnect())), this.options.initTimeout);
    }
  }

  /**
   * Publishes and resolves when the broker confirms. Rejects with
   * PublishTimeoutError, PublishNackedError, UnroutableMessageError (mandatory,
   * the default), PublishFailedError (the broker refused it: no such exchange, no
   * permission, a property it does not accept), MessageEncodingError (a value that
   * cannot be encoded; nothing was sent) or MessageTooLargeError. Whatever one
   * message does, other publishes are not affected.
   */
  publish<T = unknown>(exchange: string, routingKey: string, message: T, options?: PublishOptions): Promise<void> {
    const serializer = options?.serializer ?? this.options.serializer;
    let content: Buffer;
    try {
      content = serializer.serialize(message);
    } catch (error) {
      return Promise.reject(MessageEncodingError.fromSerializer(exchange, routingKey, message, error));
    }
    if (content.length > this.options.maxMessageSize) {
      return Promise.reject(new MessageTooLargeError(content.length, this.options.maxMessageSize, `published to exchange '${exchange}'`));
    }
    const properties: Options.Publish = {
      persistent: this.options.persistent,
      mandatory: this.options.mandatory,
      contentType: serializer.contentType,
      appId: this.options.appId,
      timestamp: Date.now(),
      messageId: options?.messageId ?? this.messageIds.next(),
    };
    // defaultPublishOptions (rare): under the publish's own options, over Warren's.
    if (this.hasPublishDefaults)
      Object.assign(properties, this.options.publishProperties, options?.messageId === undefined ? {} : { messageId: options.messageId });
    let timeout = this.options.publishTimeout;
    let partitionKey: unknown;
    if (options !== undefined) {
      for (const key in options) {
        const value: unknown = options[key as keyof PublishOptions];
        if (value === undefined || key === 'serializer') continue;
        if (key === 'timeout') timeout = value as number;
        else if (key === 'partitionKey') partitionKey = value;
        else (properties as Record<string, unknown>)[key] = value;
      }
    }
    if (partitionKey !== undefined) {
      if (typeof partitionKey !== 'string') {
        const found = partitionKey === null ? 'null' : typeof partitionKey;
        return Promise.reject(new MessageEncodingError(exchange, routingKey, 'partitionKey', `a ${found}`, 'a partition key must be a string'));
      }
      properties.headers = { ...(properties.headers as Record<string, unknown> | undefined), [PARTITION_HEADER]: String(partitionSlotOf(partitionKey)) };
    }
    if (this.telemetry === undefined) return this.publisher.publish(exchange, routingKey, content, properties, timeout);
    const headers: Record<string, unknown> = { ...(properties.headers as Record<string, unknown> | undefined) };
    properties.headers = headers;
    const finish = this.telemetry.publish({ connection: this.name, exchange, routingKey, messageId: properties.messageId }, headers);
    const pending = this.publisher.publish(exchange, routingKey, content, properties, timeout);
    if (finish)
      pending.then(
        () => finish('ok'),
        (error: unknown) => finish(outcomeOf(error)),
      );
    return pending;
  }

  /** Publishes many messages pipelined; resolves when all are settled, with the failures listed. */
  async publishBatch(messages: BatchMessage[]): Promise<BatchPublishResult> {
    const results = await Promise.allSettled(messages.map((m) => this.publish(m.exchange, m.routingKey, m.message, m.options)));
    const failed: BatchPublishResult['failed'] = [];
    results.forEach((result, index) => {
      if (result.status === 'rejected') failed.push({ index, error: result.reason as Error });
    });
    return { confirmed: messages.length - failed.length, failed };
  }

  /**
   * Sends a request and resolves with the reply. Rejects with RpcTimeoutError,
   * RpcRemoteError (the handler threw), UnroutableMessageError (no server bound)
   * or ConnectionClosedError (the connection dropped while waiting).
   */
  request<TResponse = unknown, TPayload = unknown>(request: RequestOptions<TPayload>): Promise<TResponse> {
    // Not async (one promise per call, not three), so every failure is turned into a rejection here.
    try {
      return this.sendRequest<TResponse, TPayload>(request);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private sendRequest<TResponse, TPayload>(request: RequestOptions<TPayload>): Promise<TResponse> {
    const timeout = request.timeout ?? this.options.rpcTimeout;
    let content: Buffer;
    try {
      content = this.options.serializer.serialize(request.payload);
    } catch (error) {
      return Promise.reject(MessageEncodingError.fromSerializer(request.exchange, request.routingKey, request.payload, error));
    }
    if (content.length > this.options.maxMessageSize) {
      return Promise.reject(new MessageTooLargeError(content.length, this.options.maxMessageSize, `sent as a request to '${request.routingKey}'`));
    }
    let expiration: string | number;
    if (request.expiration === undefined) expiration = timeout === this.options.rpcTimeout ? this.defaultExpiration : String(timeout);
    else expiration = typeof request.expiration === 'number' ? encodedNumber(request.expiration) : request.expiration;
    // A request's reply routing and expiry are its own; the module's other publish defaults apply.
    const options: Options.Publish = {
      ...this.requestDefaults,
      ...request.publishOptions,
      contentType: this.options.serializer.contentType,
      headers: request.headers,
      // golevelup generates an id for an empty one too.
      correlationId: request.correlationId === '' ? undefined : request.correlationId,
      expiration,
      mandatory: true,
      persistent: false,
      timestamp: Date.now(),
      appId: this.options.appId,
    };
    const call = { exchange: request.exchange, routingKey: request.routingKey, content, options, timeoutMs: timeout };
    if (this.telemetry === undefined) return this.rpcClient.request(call) as Promise<TResponse>;
    const headers: Record<string, unknown> = { ...(options.headers as Record<string, unknown> | undefined) };
    options.headers = headers;
    const finish = this.telemetry.request({ connection: this.name, exchange: request.exchange, routingKey: request.routingKey }, headers);
    const reply = this.rpcClient.request(call) as Promise<TResponse>;
    if (finish)
      reply.then(
        () => finish('ok'),
        (error: unknown) => finish(outcomeOf(error)),
      );
    return reply;
  }

  /** Counters per handler (handled, failed, retried, deadLettered, duplicates) since start, in this process. */
  getHandlerStats(): Record<string, HandlerStats> {
    return this.consumers.stats();
  }

  /** Every handler of this connection: its queue and bindings, consumer state, dead-letter and retry wait queues, counters. */
  describeHandlers(): HandlerDescription[] {
    return this.consumers.all.flatMap((consumer) =>
      consumer.routes.map((route): HandlerDescription => {
        const { config } = route.descriptor;
        const deadLetter = deadLetterOptionsOf(route.descriptor, this);
        const retry = config.retry === false ? undefined : (config.retry ?? this.options.defaultRetry);
        const kind = config.queueOptions?.type === 'quorum' ? 'quorum' : 'classic';
        const levels = retry && consumer.queue ? [...new RetryPolicy(retry, this.options.defaultRetry).delayLevels()].sort((a, b) => a - b) : [];
        const bindings = [...(config.exchange ? [{ exchange: config.exchange, routingKey: config.routingKey ?? '' }] : []), ...(config.bindings ?? [])].flatMap(
          (b) => (Array.isArray(b.routingKey) ? b.routingKey : [b.routingKey ?? '']).map((routingKey) => ({ exchange: b.exchange, routingKey })),
        );
        return {
          name: route.descriptor.name,
          kind: route.descriptor.kind,
          queue: consumer.queue,
          bindings,
          prefetch: consumer.channel.prefetch ?? 0,
          state: consumer.isCancelled ? 'cancelled' : consumer.channel.isOpen ? 'consuming' : 'waiting',
          inFlight: consumer.inFlightCount,
          deadLetterQueue: deadLetter && (config.queue || deadLetter.queue) ? (deadLetter.queue ?? `${config.queue}.dlq`) : undefined,
          retryWaitQueues: levels.map((delayMs) => ({ queue: waitQueueName(kind, delayMs), delayMs })),
          stats: { ...route.stats },
        };
      }),
    );
  }

  /** Stops a handler's consumer (by handler name, or consumer tag); it stays stopped across reconnects until resumed. */
  cancelConsumer(handlerName: string): Promise<void> {
    return this.consumers.cancel(handlerName);
  }

  resumeConsumer(handlerName: string): Promise<void> {
    return this.consumers.resume(handlerName);
  }

  /**
   * Adds a consumer at run time, e.g. for a queue created when a tenant signs up. It gets everything a
   * `@RabbitSubscribe` handler gets (retry, dead letters, dedup, telemetry, handler statistics, batches
   * with `batch`), is re-subscribed on every reconnect and stopped at shutdown. Resolves once the queue
   * is declared and consumed (at once while disconnected: it starts on reconnect). Rejects with
   * InvalidOptionsError (options that cannot work, a name in use), ConnectionNotStartedError (before
   * `init()`), ConnectionClosedError (once shutdown has begun) or the declaration's error; nothing is left behind.
   * The handler runs outside Nest's guards, interceptors and pipes.
   */
  subscribe<T = unknown>(options: BatchSubscribeOptions, handler: BatchSubscribeHandler<T>): Promise<ConsumerHandle>;
  subscribe<T = unknown>(options: SubscribeOptions, handler: SubscribeHandler<T>): Promise<ConsumerHandle>;
  subscribe(options: RabbitHandlerConfig, handler: (...args: never[]) => unknown): Promise<ConsumerHandle> {
    return this.addConsumer('subscribe', options, handler, 'subscribe()');
  }

  /** Adds an RPC handler at run time; what it returns is the reply. Otherwise as `subscribe()`. */
  rpc<T = unknown, R = unknown>(options: SubscribeOptions, handler: RpcHandler<T, R>): Promise<ConsumerHandle> {
    return this.addConsumer('rpc', options, handler, 'rpc()');
  }

  /**
   * golevelup's `createSubscriber`: `subscribe()` with golevelup's argument order. The consumer is named
   * `originalHandlerName@queue` (or `originalHandlerName` without a queue), so one handler can serve many queues.
   * The returned handle has golevelup's `consumerTag`.
   */
  createSubscriber<T = unknown>(
    handler: SubscribeHandler<T>,
    msgOptions: SubscribeOptions,
    originalHandlerName: string,
    consumeOptions?: Options.Consume,
  ): Promise<ConsumerHandle> {
    const name = msgOptions?.name ?? (msgOptions?.queue ? `${originalHandlerName}@${msgOptions.queue}` : originalHandlerName);
    return this.addConsumer('subscribe', withConsumeOptions({ ...msgOptions, name }, consumeOptions), handler, 'createSubscriber()');
  }

  /** golevelup's `createBatchSubscriber`: a batch of `batchOptions.size` (10 unless given), flushed after `batchOptions.timeout` ms (200). */
  createBatchSubscriber<T = unknown>(
    handler: BatchSubscribeHandler<T>,
    msgOptions: RabbitHandlerConfig,
    consumeOptions?: Options.Consume,
  ): Promise<ConsumerHandle> {
    const batched: RabbitHandlerConfig =
      msgOptions?.batch === undefined && msgOptions?.batchOptions === undefined ? { ...msgOptions, batchOptions: { size: 10 } } : { ...msgOptions };
    return this.addConsumer('subscribe', withConsumeOptions(batched, consumeOptions), handler, 'createBatchSubscriber()');
  }

  /** golevelup's `createRpc`: `rpc()` with golevelup's argument order. */
  createRpc<T = unknown, U = unknown>(handler: RpcHandler<T, U>, rpcOptions: SubscribeOptions): Promise<ConsumerHandle> {
    return this.addConsumer('rpc', rpcOptions, handler, 'createRpc()');
  }

  private async addConsumer(kind: HandlerKind, options: RabbitHandlerConfig, handler: unknown, operation: string): Promise<ConsumerHandle> {
    if (this.status === 'closed') throw new ConnectionClosedError(this.name, `before ${operation}: the application is shutting down`);
    if (!this.host.isStarted) throw new ConnectionNotStartedError(this.name, operation);
    const problems: string[] = [];
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionsError([
        `connection '${this.name}': ${operation} needs an options object such as { queue: 'tenant.acme' } (got ${String(options)})`,
      ]);
    }
    const name = options.name ?? options.queue ?? `${kind}-${randomUUID().slice(0, 8)}`;
    if (typeof handler !== 'function') problems.push(`${name}: the handler must be a function (got ${typeof handler})`);
    if (options.connection !== undefined && options.connection !== this.name) {
      problems.push(
        `${name}: connection '${options.connection}' was given to connection '${this.name}'; call ${operation} on that connection's AmqpConnection`,
      );
    }
    const consume: Options.Consume | undefined = options.consumerOptions;
    if (consume?.noAck === true) {
      problems.push(`${name}: noAck is not supported; Warren acknowledges each message after its handler. Remove noAck`);
    }
    if (problems.length > 0) throw new InvalidOptionsError(problems.map((p) => `connection '${this.name}': ${p}`));
    // The same check and golevelup names as a decorated handler's options: no key is silently ignored.
    const queueConsumerTags = new Map(this.options.queues.filter((q) => q.consumerTag !== undefined).map((q) => [q.name, q.consumerTag as string]));
    const { config, problems: found } = resolveHandlerConfig(
      { ...options, name },
      { serializer: this.options.serializer, defaultChannel: this.options.defaultChannel, queueConsumerTags },
    );
    if (found.length > 0) {
      const report = toInvalidOptions(found, `connection '${this.name}': ${name}: `);
      throw new InvalidOptionsError(report.messages, report.unknown);
    }
    const run = handler as (...args: unknown[]) => unknown;
    // Async wrappers: a handler that throws synchronously fails its message like one that rejects.
    const invoke = async (...args: unknown[]): Promise<unknown> => run(...args);
    const batched = options.batch !== undefined || options.batchOptions !== undefined;
    const consumer = await this.consumers.add({ name, kind, config, invoke, invokeBatch: batched ? invoke : undefined }, this.options.initTimeout);
    return new ConsumerHandle(consumer, (c, cancel) => this.removeConsumer(c, cancel));
  }

  private async removeConsumer(consumer: QueueConsumer, options: CancelConsumerOptions): Promise<void> {
    await this.consumers.remove(consumer, this.options.shutdownTimeout);
    if (options.deleteQueue) await this.withChannel((channel) => channel.deleteQueue(consumer.queue));
  }

  /**
   * Runs `fn` on a temporary channel (closed afterwards): for inspection and one-off declarations.
   * Rejects with ConnectionClosedError while the connection is not connected.
   */
  async withChannel<R>(fn: (channel: Channel) => Promise<R>): Promise<R> {
    const connection = this.host.connection;
    if (!connection)
      throw new ConnectionClosedError(
        this.name,
        "before a channel could be opened: it is not connected now; wait until status$ emits 'connected' and try again",
      );
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    try {
      return await fn(channel);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** @internal Publishes an already serialized message with confirms (retry and dead-letter parking, replay). */
  publishRaw(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void> {
    return this.publisher.publish(exchange, routingKey, content, options, this.options.publishTimeout);
  }

  /** @internal The telemetry hub of this connection, when telemetry is configured (the outbox reports through it). */
  get telemetryHub(): TelemetryHub | undefined {
    return this.telemetry;
  }

  /** @internal */
  get topologyDeclarer(): TopologyDeclarer {
    return this.topology;
  }

  /**
   * This instance's view of each partitioned handler's group: its id, how many instances it knows
   * (itself included) and the partitions it owns, which it is the active consumer of once the group
   * has settled (see docs/cluster.md).
   */
  partitionGroups(): Array<{ queue: string; instanceId: string; instances: number; owned: number[] }> {
    return this.consumers.partitionGroups.map((group) => ({ queue: group.name, instanceId: group.id, instances: group.size, owned: group.owned() }));
  }

  /** @internal Adds a feature that decorates handler routes (retry, dead letters, dedup). */
  addRouteEnhancer(enhancer: RouteEnhancer): void {
    this.enhancers.push(enhancer);
  }

  /** @internal Called by the module with the handlers discovered for this connection. */
  async registerHandlers(handlers: HandlerDescriptor[]): Promise<void> {
    if (handlers.length === 0) return;
    await this.consumers.register(handlers, this.options.initTimeout);
  }

  /** @internal Shutdown step 1: stop consuming and let handlers in flight finish. */
  async stopConsumers(): Promise<void> {
    this.shutdownDeadline ??= Date.now() + this.options.shutdownTimeout;
    await this.consumers.stop(this.options.shutdownTimeout);
  }

  /**
   * @internal Shutdown step 2: settle pending publishes and requests, close the connection.
   * Both steps share one deadline, `shutdownTimeout` from the start of shutdown, whatever the broker does.
   */
  async close(): Promise<void> {
    const deadline = this.shutdownDeadline ?? Date.now() + this.options.shutdownTimeout;
    await this.publisher.drain(Math.max(0, deadline - Date.now()));
    this.publisher.close();
    this.rpcClient.close();
    await this.host.close(deadline);
    await Promise.all(
      this.enhancers.map(async (enhancer) => {
        await enhancer.close?.();
      }),
    );
  }

  /** @internal */
  get managedTopologyChannel(): ManagedChannel {
    return this.host.topologyChannel;
  }

  /**
   * Declares the module's exchanges, exchange bindings and queues. Runs on a
   * temporary channel that is replaced after each refusal (the broker closes a
   * channel on any failed declare), so one bad declaration does not stop the rest.
   */
  private async declareModuleTopology(): Promise<void> {
    const connection = this.host.connection;
    if (!connection) return;
    const { exchanges, exchangeBindings, queues } = this.options;
    if (exchanges.length + exchangeBindings.length + queues.length === 0) return;
    let channel: Channel | undefined;
    const run = async (fn: (ch: Channel) => Promise<void>): Promise<void> => {
      if (!channel) {
        channel = await connection.createChannel();
        channel.on('error', () => undefined);
      }
      try {
        await fn(channel);
      } catch (error) {
        channel = undefined;
        this.onSetupError(error, this.host.topologyChannel);
      }
    };
    for (const exchange of exchanges) await run((ch) => this.topology.declareExchange(ch, exchange));
    for (const binding of exchangeBindings) await run((ch) => this.topology.bindExchange(ch, binding));
    for (const queue of queues) {
      await run(async (ch) => {
        await this.topology.declareQueue(ch, queue.name, queue);
        for (const binding of queue.bindings ?? []) await this.topology.bindQueue(ch, queue.name, binding);
      });
    }
    await channel?.close().catch(() => undefined);
  }

  private onSetupError(error: unknown, channel: ManagedChannel): void {
    const err = error instanceof Error ? error : new Error(String(error));
    this.setupErrors.push(err);
    if (this.setupErrors.length > 100) this.setupErrors.shift();
    this.logger.error(`${err.message} [channel ${channel.name}]`);
  }
}

/** golevelup's separate consume options, merged into the handler's `consumerOptions`. */
function withConsumeOptions(options: RabbitHandlerConfig, consumeOptions: Options.Consume | undefined): RabbitHandlerConfig {
  if (consumeOptions === undefined) return options;
  return { ...options, consumerOptions: { ...options.consumerOptions, ...consumeOptions } };
}

/** A whole number as amqplib's string property; anything else is left for the encoding check to name. */
function encodedNumber(value: number): string | number {
  return Number.isSafeInteger(value) && value >= 0 ? String(value) : value;
}

/** golevelup's name of its default channel when no configured channel is `default: true` (its class name). */
const GOLEVELUP_DEFAULT_CHANNEL = 'AmqpConnection';

function isResolved(options: ResolvedOptions | RabbitMQModuleOptions): options is ResolvedOptions {
  return 'given' in options && 'uris' in options;
}

/**
 * amqp-connection-manager's topology methods do nothing while the wrapper's channel is opening: on a
 * wrapper created on first use they would drop the first calls. They wait for the channel instead.
 */
function waitingForConnect(wrapper: ChannelWrapper): ChannelWrapper {
  const methods = [
    'assertQueue',
    'checkQueue',
    'bindQueue',
    'unbindQueue',
    'deleteQueue',
    'purgeQueue',
    'assertExchange',
    'checkExchange',
    'bindExchange',
    'unbindExchange',
    'deleteExchange',
    'consume',
    'prefetch',
    'get',
  ] as const;
  const target = wrapper as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const method of methods) {
    const original = target[method]?.bind(wrapper);
    if (original === undefined) continue;
    target[method] = async (...args: unknown[]) => {
      await wrapper.waitForConnect();
      return original(...args);
    };
  }
  return wrapper;
}
