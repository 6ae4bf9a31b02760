import { Logger } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import { ConnectionClosedError } from '../errors/connection-closed.error';
import type { ConnectionHost } from '../connection/connection-host';
import type { ManagedChannel } from '../connection/managed-channel';
import type { BindingConfig, PartitionOptions, QueueOptions, RabbitHandlerConfig } from '../options/rabbitmq-options.interface';
import { PARTITION_HEADER, partitionExchangeName, partitionQueueName, slotsOfPartition } from '../message/partition';
import type { ResolvedOptions } from '../options/resolve-options';
import type { TopologyDeclarer } from '../topology/topology-declarer';
import { requeuedCopyOptions } from '../message/requeued-copy';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { validateQueueOptions } from '../options/validate-queue-options';
import { isQuorum } from '../topology/queue-arguments';
import { UnknownHandlerError } from '../errors/unknown-handler.error';
import type { DeliveryTelemetry } from './delivery-telemetry';
import type { FeatureHost } from './feature-host';
import { ErrorBehaviorStrategy } from './error-behavior.strategy';
import { ErrorHandlerStrategy } from './error-handler.strategy';
import { normalizeErrorBehavior } from '../options/golevelup-names';
import { emptyStats, type HandlerStats } from './handler-stats';
import type { HandlerDescriptor } from './handler-descriptor';
import type { HandlerRoute } from './handler-route';
import { MessageDispatcher } from './message-dispatcher';
import { QueueConsumer, type QueueSetup } from './queue-consumer';
import { DEFAULT_PARTITION_HEARTBEAT_MS, validatePartitions } from './validate-partitions';
import { PartitionGroup } from './partition-group';
import { StreamReader } from './stream-reader';
import { validateStream } from './validate-stream';
import { compileTopicPattern } from './topic-pattern';
import { resolveBatch, validateBatch } from './batch-options';

/** What a feature adds to one handler's route. */
export interface RouteEnhancement {
  route: HandlerRoute;
  /** Topology declared next to the handler's queue, on every (re)connect. */
  setup?: QueueSetup;
  /** Queue arguments the feature needs on the handler's queue (e.g. its dead-letter exchange). */
  queueOptions?: QueueOptions;
}

/** Adds a feature (retry, dead-letter, dedup) to routes; returns the route unchanged when the handler does not use it. */
export interface RouteEnhancer {
  /** Problems with a handler's options for this feature, checked for every handler before any starts. */
  validate?(handler: HandlerDescriptor): string[];
  enhance(route: HandlerRoute, queue: string | undefined, queueOptions: QueueOptions): RouteEnhancement;
  /** Releases what the feature holds (stores, clients) at shutdown. */
  close?(): Promise<void>;
}

/**
 * Turns discovered handlers into queue consumers on this connection: groups
 * handlers by queue, gives each queue its own channel (or a named shared one)
 * with its prefetch, and cancels, resumes and drains them by handler name.
 */
export class ConsumerRegistry {
  private readonly logger: Logger;
  private readonly consumers: QueueConsumer[] = [];
  private readonly sharedChannels = new Map<string, ManagedChannel>();
  private readonly groups: PartitionGroup[] = [];
  /** Set as stop() begins: a consumer added after that would consume on and never be drained. */
  private stopping = false;
  readonly dispatcher: MessageDispatcher;

  constructor(
    private readonly host: ConnectionHost,
    private readonly options: ResolvedOptions,
    private readonly topology: TopologyDeclarer,
    private readonly enhancers: RouteEnhancer[],
    telemetry: DeliveryTelemetry | undefined,
    /** Confirmed publishing, for giving back a quorum queue's unprocessed deliveries as fresh copies. */
    private readonly publishRaw?: FeatureHost['publishRaw'],
  ) {
    this.logger = new Logger(`RabbitMQ:${options.name}`);
    this.dispatcher = new MessageDispatcher(options.maxMessageSize, options.name, telemetry);
  }

  /** The partition groups of partitioned handlers, for inspection. */
  get partitionGroups(): readonly PartitionGroup[] {
    return this.groups;
  }

  /** Consumers by queue, for inspection. */
  get all(): readonly QueueConsumer[] {
    return this.consumers;
  }

  /** Registers handlers; when connected, resolves once their queues are declared and consumed (or `timeoutMs` passed). */
  async register(handlers: HandlerDescriptor[], timeoutMs: number): Promise<void> {
    const groups = this.group(handlers);
    const problems = handlers.flatMap((handler) => [
      ...validateQueueOptions(handler.config.queueOptions, handler.name),
      ...validatePartitions(handler, handlers),
      ...validateStream(handler),
      ...this.enhancers.flatMap((enhancer) => enhancer.validate?.(handler) ?? []),
    ]);
    for (const group of groups) problems.push(...group.flatMap((handler) => validateBatch(handler, this.options, group.length > 1)));
    const taken = new Set(this.consumers.flatMap((c) => c.handlerNames));
    for (const handler of handlers) {
      const { partitions, stream, batch, batchOptions } = handler.config;
      if ((batch !== undefined || batchOptions !== undefined) && (partitions !== undefined || stream !== undefined)) {
        problems.push(`${handler.name}: batch consume does not combine with ${partitions !== undefined ? 'partitions' : 'stream'}; drop one of them`);
      }
      if (taken.has(handler.name)) problems.push(`${handler.name}: a consumer of this name was already added at run time; give one of them another name`);
    }
    if (problems.length > 0) throw new InvalidOptionsError(problems.map((p) => `connection '${this.options.name}': ${p}`));
    const before = this.consumers.length;
    for (const group of groups) {
      if (group[0].config.partitions !== undefined) this.createPartitionedConsumers(group[0]);
      else this.createConsumer(group);
    }
    if (this.host.isConnected) {
      await Promise.all(this.consumers.slice(before).map((consumer) => consumer.channel.waitUntilOpen(timeoutMs)));
    }
  }

  /**
   * Adds one handler at run time, on a consumer of its own. Rejects with InvalidOptionsError (nothing added)
   * when its options cannot work or its name is taken; when connected, resolves once its queue is declared and
   * consumed, and rejects with the setup's error (nothing left behind) if that fails. While disconnected it
   * resolves at once and starts consuming on reconnect, as every consumer does. Once stop() has begun it
   * rejects with ConnectionClosedError and opens nothing on the broker.
   */
  async add(handler: HandlerDescriptor, timeoutMs: number): Promise<QueueConsumer> {
    if (this.stopping) {
      throw new ConnectionClosedError(
        this.options.name,
        `before consumer '${handler.name}' could be added: the application is shutting down and its consumers are being drained. ` +
          'Add consumers while the application runs, not from a shutdown hook',
      );
    }
    const problems = [
      ...validateQueueOptions(handler.config.queueOptions, handler.name),
      ...validateStream(handler),
      ...this.enhancers.flatMap((enhancer) => enhancer.validate?.(handler) ?? []),
      ...validateBatch(handler, this.options, false),
    ];
    if (handler.config.partitions !== undefined) {
      problems.push(`${handler.name}: partitions are declared with a decorated handler (@RabbitSubscribe({ partitions })), not added at run time`);
    }
    if (this.consumers.some((c) => c.handlerNames.includes(handler.name))) {
      problems.push(`${handler.name}: a consumer of this name exists already on this connection; give it another name (or cancel the other first)`);
    }
    if (problems.length > 0) throw new InvalidOptionsError(problems.map((p) => `connection '${this.options.name}': ${p}`));
    const { consumer, added } = this.createConsumer([handler]);
    if (!this.host.isConnected) return consumer;
    // On a shared channel that is open, the setup runs (or fails) inside addSetup; on a channel of its own, once it opens.
    await added;
    await consumer.channel.waitUntilOpen(timeoutMs);
    const failure = consumer.tag === undefined ? consumer.channel.setupError : undefined;
    if (failure !== undefined) {
      await this.remove(consumer, timeoutMs);
      throw failure;
    }
    return consumer;
  }

  /** Stops a consumer added at run time, waits (up to `timeoutMs`) for its handlers in flight, and forgets it. Returns how many were still running. */
  async remove(consumer: QueueConsumer, timeoutMs: number): Promise<number> {
    const stillRunning = await consumer.stop(timeoutMs);
    if (stillRunning > 0) {
      this.logger.warn(
        `${consumer.handlerNames.join(', ')}: ${stillRunning} handler(s) still running after ${timeoutMs} ms; their messages return to the queue unacked`,
      );
    }
    const index = this.consumers.indexOf(consumer);
    if (index >= 0) this.consumers.splice(index, 1);
    if ([...this.sharedChannels.values()].includes(consumer.channel)) consumer.channel.removeSetup(consumer.setup);
    else await this.host.removeChannel(consumer.channel);
    return stillRunning;
  }

  /** Handlers grouped by queue: handlers of one named queue share its consumer. */
  private group(handlers: HandlerDescriptor[]): HandlerDescriptor[][] {
    const groups = new Map<string, HandlerDescriptor[]>();
    let anonymous = 0;
    for (const handler of handlers) {
      // A stream reader has its own consumer (and position), even on a queue other handlers read.
      const key = handler.config.stream !== undefined ? `stream:${handler.name}` : handler.config.queue ? `q:${handler.config.queue}` : `anon:${anonymous++}`;
      const group = groups.get(key);
      if (group) group.push(handler);
      else groups.set(key, [handler]);
    }
    return [...groups.values()];
  }

  /** Counters per handler name. */
  stats(): Record<string, HandlerStats> {
    const result: Record<string, HandlerStats> = {};
    for (const consumer of this.consumers) {
      for (const route of consumer.routes) result[route.descriptor.name] = { ...route.stats };
    }
    return result;
  }

  /** Every consumer of a handler: one, or one per partition of a partitioned handler. */
  async cancel(handlerName: string): Promise<void> {
    await Promise.all(this.findAll(handlerName).map((consumer) => consumer.cancel()));
  }

  async resume(handlerName: string): Promise<void> {
    await Promise.all(this.findAll(handlerName).map((consumer) => consumer.resume()));
  }

  /** Refuses consumers added from now on, cancels every consumer, then waits for handlers in flight. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    for (const group of this.groups) group.stop();
    const stillRunning = await Promise.all(this.consumers.map((consumer) => consumer.stop(timeoutMs)));
    const total = stillRunning.reduce((a, b) => a + b, 0);
    if (total > 0) {
      this.logger.warn(`${total} handler(s) still running after ${timeoutMs} ms; their messages return to the queue unacked`);
    }
  }

  /** Tags of the consumers consuming now. */
  tags(): string[] {
    return this.consumers.map((c) => c.currentTag).filter((tag): tag is string => tag !== undefined);
  }

  /** The consumers of a handler by its name (all its partitions), or (golevelup's way) the one with that consumer tag. */
  private findAll(handlerName: string): QueueConsumer[] {
    const named = this.consumers.filter((c) => c.handlerNames.includes(handlerName));
    return named.length > 0 ? named : [this.find(handlerName)];
  }

  /** The consumer of a handler, by handler name or (golevelup's way) by consumer tag. */
  private find(handlerName: string): QueueConsumer {
    const consumer = this.consumers.find((c) => c.handlerNames.includes(handlerName)) ?? this.consumers.find((c) => c.hasTag(handlerName));
    if (!consumer) {
      throw new UnknownHandlerError(
        handlerName,
        this.options.name,
        this.consumers.flatMap((c) => c.handlerNames),
      );
    }
    return consumer;
  }

  /** The routes of a queue's handlers with every feature applied, the topology the features add, and the queue's options. */
  private enhancedRoutes(
    handlers: HandlerDescriptor[],
    queue: string | undefined,
  ): { routes: HandlerRoute[]; extraSetup: QueueSetup[]; queueOptions: QueueOptions } {
    const extraSetup: QueueSetup[] = [];
    let queueOptions: QueueOptions = { ...handlers[0].config.queueOptions };
    const routes = handlers.map((handler) => {
      let route = this.baseRoute(handler);
      for (const enhancer of this.enhancers) {
        const enhanced = enhancer.enhance(route, queue, queueOptions);
        route = enhanced.route;
        if (enhanced.setup) extraSetup.push(enhanced.setup);
        if (enhanced.queueOptions) {
          // The handler's own settings win; raw arguments are merged, not replaced.
          const args = { ...enhanced.queueOptions.arguments, ...queueOptions.arguments };
          queueOptions = { ...enhanced.queueOptions, ...queueOptions, arguments: args };
        }
      }
      return route;
    });
    return { routes, extraSetup, queueOptions };
  }

  private createConsumer(handlers: HandlerDescriptor[]): { consumer: QueueConsumer; added: Promise<void> } {
    const first = handlers[0].config;
    const queue = first.queue || undefined;
    const { routes, extraSetup, queueOptions } = this.enhancedRoutes(handlers, queue);
    this.warnIfFailuresAreDiscarded(routes, queueOptions);
    const bindings = handlers.flatMap((handler) => bindingsOf(handler.config));
    const channel = this.channelFor(first, handlers);
    const consumer = new QueueConsumer(
      {
        queue,
        queueOptions,
        bindings,
        routes,
        consumerOptions: first.consumerOptions,
        fallbackFailure: routes[0].failure,
        extraSetup,
        assertQueueErrorHandler: first.assertQueueErrorHandler,
        openScratchChannel: () => this.openScratchChannel(),
        requeueCopy: this.requeueCopyFor(queue, queueOptions),
        batch: handlers.length === 1 ? resolveBatch(handlers[0]) : undefined,
        ...(first.stream !== undefined ? { ordered: true, reader: new StreamReader(first.stream.reader ?? handlers[0].name, first.stream) } : {}),
      },
      channel,
      this.dispatcher,
      this.topology,
    );
    this.consumers.push(consumer);
    const added = channel.addSetup(consumer.setup);
    for (const handler of handlers) {
      const keys = bindings.map((b) => `${b.exchange}/${String(b.routingKey ?? '')}`).join(', ') || '(no binding)';
      this.logger.log(`${handler.name} -> ${keys} -> ${queue ?? '(server-named queue)'}`);
    }
    return { consumer, added };
  }

  /**
   * A partitioned handler: `count` single-active-consumer queues behind a headers exchange that the
   * handler's bindings feed, one ordered consumer per partition on its own channel, and the group
   * that shares the partitions out among instances. The features are applied once, for the handler's
   * queue name: the partitions share one dead-letter queue, and a delayed retry returns to its partition.
   */
  private createPartitionedConsumers(handler: HandlerDescriptor): void {
    const config = handler.config;
    const base = config.queue as string;
    const partitions = config.partitions as PartitionOptions;
    const { routes, extraSetup, queueOptions } = this.enhancedRoutes([handler], base);
    this.warnIfFailuresAreDiscarded(routes, queueOptions);
    const exchange = partitionExchangeName(base);
    const feeds = bindingsOf(config);
    const declareFeed: QueueSetup = async (channel) => {
      await this.topology.declareExchange(channel, { name: exchange, type: 'headers', options: { durable: true } });
      for (const feed of feeds) {
        const keys = Array.isArray(feed.routingKey) ? feed.routingKey : [feed.routingKey ?? ''];
        for (const routingKey of keys) {
          await this.topology.bindExchange(channel, { source: feed.exchange, destination: exchange, routingKey, arguments: feed.arguments });
        }
      }
    };
    const consumers: QueueConsumer[] = [];
    const membership = this.host.createChannel(`partitions:${base}`, { confirm: false });
    const group = new PartitionGroup(base, consumers, membership, this.topology, partitions.heartbeatMs ?? DEFAULT_PARTITION_HEARTBEAT_MS);
    const prefetch = config.prefetch ?? this.options.prefetchCount;
    for (let index = 0; index < partitions.count; index++) {
      const queue = partitionQueueName(base, index);
      const channel = this.host.createChannel(`consumer:${queue}`, { confirm: false, prefetch });
      const consumer = new QueueConsumer(
        {
          queue,
          queueOptions: { ...queueOptions, singleActiveConsumer: true },
          bindings: slotsOfPartition(index, partitions.count).map((slot) => ({
            exchange,
            arguments: { 'x-match': 'all', [PARTITION_HEADER]: String(slot) },
          })),
          routes,
          consumerOptions: config.consumerOptions,
          fallbackFailure: routes[0].failure,
          extraSetup: [declareFeed, ...extraSetup],
          // No fresh copies at the back of the queue: that would reorder it.
          requeueCopy: undefined,
          ordered: true,
          onConsuming: () => group.consuming(index),
          onHandled: () => group.handled(index),
        },
        channel,
        this.dispatcher,
        this.topology,
      );
      consumers.push(consumer);
      this.consumers.push(consumer);
      void channel.addSetup(consumer.setup);
    }
    this.groups.push(group);
    void membership.addSetup(group.setup);
    group.start();
    const keys = feeds.map((b) => `${b.exchange}/${String(b.routingKey ?? '')}`).join(', ') || '(no binding)';
    this.logger.log(`${handler.name} -> ${keys} -> ${partitionQueueName(base, 0)} .. ${partitionQueueName(base, partitions.count - 1)} (ordered)`);
  }

  /**
   * A quorum queue counts every requeue against its delivery limit (RabbitMQ 4.0 sets 20 unless told
   * otherwise), whether or not the handler ran: a delivery that was only waiting goes back as a fresh copy.
   */
  private requeueCopyFor(queue: string | undefined, queueOptions: QueueOptions): ((queue: string, message: ConsumeMessage) => Promise<void>) | undefined {
    const publish = this.publishRaw;
    const quorum = isQuorum(queueOptions);
    if (publish === undefined || queue === undefined || !quorum) return undefined;
    return (name, message) => publish('', name, message.content, requeuedCopyOptions(message));
  }

  /** golevelup requeued failures by default; here a failure with nowhere to go is dropped by the broker, so say so once at start-up. */
  private warnIfFailuresAreDiscarded(routes: HandlerRoute[], queueOptions: QueueOptions): void {
    const hasDlx = queueOptions.deadLetterExchange !== undefined || queueOptions.arguments?.['x-dead-letter-exchange'] !== undefined;
    if (hasDlx) return;
    const quorum = isQuorum(queueOptions);
    for (const route of routes) {
      if (!(route.failure instanceof ErrorBehaviorStrategy) || route.descriptor.kind !== 'subscribe') continue;
      if (route.errorBehavior === 'dead-letter') {
        this.logger.warn(
          `${route.descriptor.name}: a message whose handler fails is dropped by the broker (no dead-letter queue or exchange). ` +
            `Set deadLetter: true (or retry) to keep it, or queueOptions.deadLetterExchange.`,
        );
      } else if (route.errorBehavior === 'requeue' && quorum) {
        // RabbitMQ 4 gives a quorum queue a delivery limit of 20 unless it has one; past it, without a dead-letter exchange, the message is gone.
        this.logger.warn(
          `${route.descriptor.name}: a message requeued past the quorum queue's delivery limit (20 by default from RabbitMQ 4.0) is dropped by the broker ` +
            `(no dead-letter queue or exchange). Set deadLetter: true (or retry) to keep it, or queueOptions.deadLetterExchange.`,
        );
      }
    }
  }

  /** A plain channel for one-off work (closed by its user); errors on it are the caller's to handle. */
  private async openScratchChannel(): Promise<Channel> {
    const connection = this.host.connection;
    if (!connection) throw new ConnectionClosedError(this.options.name, 'before a channel could be opened');
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    return channel;
  }

  private baseRoute(handler: HandlerDescriptor): HandlerRoute {
    const config = handler.config;
    const keys = bindingsOf(config).flatMap((b) => (Array.isArray(b.routingKey) ? b.routingKey : [b.routingKey ?? '']));
    const matchAll = keys.length === 0 || keys.includes('') || keys.includes('#');
    const matchers = keys.map(compileTopicPattern);
    const errorBehavior = normalizeErrorBehavior(config.errorBehavior) ?? this.options.errorBehavior;
    const behavior = new ErrorBehaviorStrategy(errorBehavior);
    const rpcErrorHandler = handler.kind === 'rpc' ? (config.errorHandler ?? this.options.rpcErrorHandler) : undefined;
    return {
      descriptor: handler,
      matches: matchAll ? () => true : (key) => matchers.some((m) => m(key)),
      errorBehavior,
      serializer: config.serializer ?? this.options.serializer,
      allowNonJson: config.allowNonJsonMessages ?? false,
      // An explicit errorHandler wins over errorBehavior (golevelup's rule); retry and dead-letter queues wrap either.
      failure: config.errorHandler ? new ErrorHandlerStrategy(config.errorHandler, behavior) : behavior,
      rpcFailure: rpcErrorHandler ? new ErrorHandlerStrategy(rpcErrorHandler, new ErrorBehaviorStrategy('dead-letter')) : undefined,
      persistentReplies: config.usePersistentReplyTo ?? false,
      dedup: undefined,
      retryImmediately: undefined,
      stats: emptyStats(),
    };
  }

  private channelFor(config: RabbitHandlerConfig, handlers: HandlerDescriptor[]): ManagedChannel {
    if (config.channel !== undefined) {
      const existing = this.sharedChannels.get(config.channel);
      if (existing) return existing;
      const shared = this.host.createChannel(`shared:${config.channel}`, {
        confirm: false,
        prefetch: this.options.channels[config.channel]?.prefetchCount ?? this.options.prefetchCount,
      });
      this.sharedChannels.set(config.channel, shared);
      return shared;
    }
    const prefetch = Math.max(...handlers.map((h) => h.config.prefetch ?? this.options.prefetchCount));
    return this.host.createChannel(`consumer:${config.queue ?? handlers[0].name}`, { confirm: false, prefetch });
  }
}

function bindingsOf(config: RabbitHandlerConfig): BindingConfig[] {
  const bindings: BindingConfig[] = [];
  if (config.exchange) {
    bindings.push({ exchange: config.exchange, routingKey: config.routingKey ?? '', arguments: config.bindingArguments });
  }
  return bindings.concat(config.bindings ?? []);
}
