import { Logger } from '@nestjs/common';
import type { ConsumeMessage } from 'amqplib';
import type { ConnectionHost } from '../connection/connection-host';
import type { ManagedChannel } from '../connection/managed-channel';
import type { BindingConfig, QueueOptions, RabbitHandlerConfig } from '../options/rabbitmq-options.interface';
import type { ResolvedOptions } from '../options/resolve-options';
import type { TopologyDeclarer } from '../topology/topology-declarer';
import { requeuedCopyOptions } from '../message/requeued-copy';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { UnknownHandlerError } from '../errors/unknown-handler.error';
import type { DeliveryTelemetry } from './delivery-telemetry';
import type { FeatureHost } from './feature-host';
import { ErrorBehaviorStrategy } from './error-behavior.strategy';
import { emptyStats, type HandlerStats } from './handler-stats';
import type { HandlerDescriptor } from './handler-descriptor';
import type { HandlerRoute } from './handler-route';
import { MessageDispatcher } from './message-dispatcher';
import { QueueConsumer, type QueueSetup } from './queue-consumer';
import { compileTopicPattern } from './topic-pattern';

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

  /** Consumers by queue, for inspection. */
  get all(): readonly QueueConsumer[] {
    return this.consumers;
  }

  /** Registers handlers; when connected, resolves once their queues are declared and consumed (or `timeoutMs` passed). */
  async register(handlers: HandlerDescriptor[], timeoutMs: number): Promise<void> {
    const problems = handlers.flatMap((handler) => this.enhancers.flatMap((enhancer) => enhancer.validate?.(handler) ?? []));
    if (problems.length > 0) throw new InvalidOptionsError(problems.map((p) => `connection '${this.options.name}': ${p}`));
    const groups = new Map<string, HandlerDescriptor[]>();
    let anonymous = 0;
    for (const handler of handlers) {
      const key = handler.config.queue ? `q:${handler.config.queue}` : `anon:${anonymous++}`;
      const group = groups.get(key);
      if (group) group.push(handler);
      else groups.set(key, [handler]);
    }
    const created: QueueConsumer[] = [];
    for (const group of groups.values()) created.push(this.createConsumer(group));
    if (this.host.isConnected) {
      await Promise.all(created.map((consumer) => consumer.channel.waitUntilOpen(timeoutMs)));
    }
  }

  /** Counters per handler name. */
  stats(): Record<string, HandlerStats> {
    const result: Record<string, HandlerStats> = {};
    for (const consumer of this.consumers) {
      for (const route of consumer.routes) result[route.descriptor.name] = { ...route.stats };
    }
    return result;
  }

  async cancel(handlerName: string): Promise<void> {
    await this.find(handlerName).cancel();
  }

  async resume(handlerName: string): Promise<void> {
    await this.find(handlerName).resume();
  }

  /** Cancels every consumer, then waits for handlers in flight. */
  async stop(timeoutMs: number): Promise<void> {
    const stillRunning = await Promise.all(this.consumers.map((consumer) => consumer.stop(timeoutMs)));
    const total = stillRunning.reduce((a, b) => a + b, 0);
    if (total > 0) {
      this.logger.warn(`${total} handler(s) still running after ${timeoutMs} ms; their messages return to the queue unacked`);
    }
  }

  private find(handlerName: string): QueueConsumer {
    const consumer = this.consumers.find((c) => c.handlerNames.includes(handlerName));
    if (!consumer) {
      throw new UnknownHandlerError(
        handlerName,
        this.options.name,
        this.consumers.flatMap((c) => c.handlerNames),
      );
    }
    return consumer;
  }

  private createConsumer(handlers: HandlerDescriptor[]): QueueConsumer {
    const first = handlers[0].config;
    const queue = first.queue || undefined;
    const extraSetup: QueueSetup[] = [];
    let queueOptions: QueueOptions = { ...first.queueOptions };
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
        requeueCopy: this.requeueCopyFor(queue, queueOptions),
      },
      channel,
      this.dispatcher,
      this.topology,
    );
    this.consumers.push(consumer);
    void channel.addSetup(consumer.setup);
    for (const handler of handlers) {
      const keys = bindings.map((b) => `${b.exchange}/${String(b.routingKey ?? '')}`).join(', ') || '(no binding)';
      this.logger.log(`${handler.name} -> ${keys} -> ${queue ?? '(server-named queue)'}`);
    }
    return consumer;
  }

  /**
   * A quorum queue counts every requeue against its delivery limit (RabbitMQ 4.0 sets 20 unless told
   * otherwise), whether or not the handler ran: a delivery that was only waiting goes back as a fresh copy.
   */
  private requeueCopyFor(queue: string | undefined, queueOptions: QueueOptions): ((queue: string, message: ConsumeMessage) => Promise<void>) | undefined {
    const publish = this.publishRaw;
    const quorum = queueOptions.type === 'quorum' || queueOptions.arguments?.['x-queue-type'] === 'quorum';
    if (publish === undefined || queue === undefined || !quorum) return undefined;
    return (name, message) => publish('', name, message.content, requeuedCopyOptions(message));
  }

  /** golevelup requeued failures by default; here a failure with nowhere to go is dropped by the broker, so say so once at start-up. */
  private warnIfFailuresAreDiscarded(routes: HandlerRoute[], queueOptions: QueueOptions): void {
    const hasDlx = queueOptions.deadLetterExchange !== undefined || queueOptions.arguments?.['x-dead-letter-exchange'] !== undefined;
    if (hasDlx) return;
    const quorum = queueOptions.type === 'quorum' || queueOptions.arguments?.['x-queue-type'] === 'quorum';
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

  private baseRoute(handler: HandlerDescriptor): HandlerRoute {
    const config = handler.config;
    const keys = bindingsOf(config).flatMap((b) => (Array.isArray(b.routingKey) ? b.routingKey : [b.routingKey ?? '']));
    const matchAll = keys.length === 0 || keys.includes('') || keys.includes('#');
    const matchers = keys.map(compileTopicPattern);
    return {
      descriptor: handler,
      matches: matchAll ? () => true : (key) => matchers.some((m) => m(key)),
      errorBehavior: config.errorBehavior ?? this.options.errorBehavior,
      serializer: config.serializer ?? this.options.serializer,
      allowNonJson: config.allowNonJsonMessages ?? false,
      failure: new ErrorBehaviorStrategy(config.errorBehavior ?? this.options.errorBehavior),
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
