import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { Channel, ChannelModel, Options } from 'amqplib';
import type { Observable } from 'rxjs';
import { ConsumerRegistry, type RouteEnhancer } from '../consumer/consumer-registry';
import type { HandlerDescriptor } from '../consumer/handler-descriptor';
import type { HandlerStats } from '../consumer/handler-stats';
import { ConnectionClosedError } from '../errors/connection-closed.error';
import { MessageEncodingError } from '../errors/message-encoding.error';
import { MessageTooLargeError } from '../errors/message-too-large.error';
import type { ResolvedOptions } from '../options/resolve-options';
import { Publisher } from '../publisher/publisher';
import type { Serializer } from '../message/serializer';
import { RpcClient } from '../rpc/rpc-client';
import { TopologyDeclarer } from '../topology/topology-declarer';
import { outcomeOf, TelemetryHub } from '../observability/telemetry-hub';
import { ConnectionHost } from '../connection/connection-host';
import type { ConnectionStatus } from '../connection/connection-status';
import type { ManagedChannel } from '../connection/managed-channel';

/** Options of one publish; amqplib's publish options plus Warren's. */
export interface PublishOptions extends Options.Publish {
  /** ms to wait for the confirm. @default the module's publishOptions.timeout */
  timeout?: number;
  /** Serializer for this message. @default the module's */
  serializer?: Serializer;
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
  private readonly rpc: RpcClient;
  private readonly consumers: ConsumerRegistry;
  private readonly enhancers: RouteEnhancer[] = [];
  private readonly setupErrors: Error[] = [];
  private readonly telemetry: TelemetryHub | undefined;
  private shutdownDeadline: number | undefined;

  constructor(readonly options: ResolvedOptions) {
    this.logger = new Logger(`RabbitMQ:${options.name}`);
    this.host = new ConnectionHost(options, this.logger, (error, channel) => this.onSetupError(error, channel));
    void this.host.topologyChannel.addSetup(() => this.declareModuleTopology());
    this.publisher = new Publisher(this.host, options.name);
    this.rpc = new RpcClient(this.host, options.name, options.serializer);
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

  /** Channels open and in all: fewer open than in all means a consumer or the publisher is (re)connecting or failed. */
  get channels(): { open: number; total: number } {
    return this.host.channelCounts();
  }

  /** Errors of declarations that failed (conflicting queue arguments, missing permissions), newest last. */
  get topologyErrors(): readonly Error[] {
    return this.setupErrors;
  }

  /** Connects; with `connectionInitOptions.wait` fails with ConnectionFailedError after its timeout. */
  async init(): Promise<void> {
    await this.host.start();
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
      messageId: options?.messageId ?? randomUUID(),
    };
    let timeout = this.options.publishTimeout;
    if (options !== undefined) {
      for (const key in options) {
        const value: unknown = options[key as keyof PublishOptions];
        if (value === undefined || key === 'serializer') continue;
        if (key === 'timeout') timeout = value as number;
        else (properties as Record<string, unknown>)[key] = value;
      }
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
  async request<TResponse = unknown, TPayload = unknown>(request: RequestOptions<TPayload>): Promise<TResponse> {
    const timeout = request.timeout ?? this.options.rpcTimeout;
    let content: Buffer;
    try {
      content = this.options.serializer.serialize(request.payload);
    } catch (error) {
      throw MessageEncodingError.fromSerializer(request.exchange, request.routingKey, request.payload, error);
    }
    if (content.length > this.options.maxMessageSize) {
      throw new MessageTooLargeError(content.length, this.options.maxMessageSize, `sent as a request to '${request.routingKey}'`);
    }
    const options: Options.Publish = {
      ...request.publishOptions,
      contentType: this.options.serializer.contentType,
      headers: request.headers,
      expiration: String(timeout),
      mandatory: true,
      persistent: false,
      timestamp: Date.now(),
      appId: this.options.appId,
    };
    const call = { exchange: request.exchange, routingKey: request.routingKey, content, options, timeoutMs: timeout };
    if (this.telemetry === undefined) return (await this.rpc.request(call)) as TResponse;
    const headers: Record<string, unknown> = { ...(options.headers as Record<string, unknown> | undefined) };
    options.headers = headers;
    const finish = this.telemetry.request({ connection: this.name, exchange: request.exchange, routingKey: request.routingKey }, headers);
    try {
      const reply = (await this.rpc.request(call)) as TResponse;
      finish?.('ok');
      return reply;
    } catch (error) {
      finish?.(outcomeOf(error));
      throw error;
    }
  }

  /** Counters per handler (handled, failed, retried, deadLettered, duplicates) since start, in this process. */
  getHandlerStats(): Record<string, HandlerStats> {
    return this.consumers.stats();
  }

  /** Stops a handler's consumer; it stays stopped across reconnects until resumed. */
  cancelConsumer(handlerName: string): Promise<void> {
    return this.consumers.cancel(handlerName);
  }

  resumeConsumer(handlerName: string): Promise<void> {
    return this.consumers.resume(handlerName);
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

  /** @internal */
  get topologyDeclarer(): TopologyDeclarer {
    return this.topology;
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
    this.rpc.close();
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
