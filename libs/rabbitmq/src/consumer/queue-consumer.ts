import { Logger } from '@nestjs/common';
import type { Channel, ConsumeMessage, Options } from 'amqplib';
import type { ManagedChannel } from '../connection/managed-channel';
import type { BindingConfig, QueueOptions, RabbitHandlerConfig } from '../options/rabbitmq-options.interface';
import type { TopologyDeclarer } from '../topology/topology-declarer';
import { isQuorum } from '../topology/queue-arguments';
import type { FailureStrategy } from './failure-strategy';
import type { HandlerRoute } from './handler-route';
import type { DispatchSource, MessageDispatcher } from './message-dispatcher';
import { errorText } from '../errors/error-text';
import { BatchCollector } from './batch-collector';
import type { ResolvedBatch } from './batch-options';
import type { AssertQueueErrorHandler } from '../options/message-handler-error-behavior';
import { toAssertQueueOptions } from '../topology/queue-arguments';
import type { StreamReader } from './stream-reader';
import type { ConsumeOutcome } from '../options/telemetry.interface';

/** Extra topology a feature needs next to a handler's queue (retry wait queues, dead-letter queue). */
export type QueueSetup = (channel: Channel, queue: string) => Promise<void>;

export interface QueueConsumerInit {
  /** Undefined: the broker names an exclusive queue. */
  queue: string | undefined;
  queueOptions: QueueOptions;
  bindings: BindingConfig[];
  routes: HandlerRoute[];
  consumerOptions: RabbitHandlerConfig['consumerOptions'];
  fallbackFailure: FailureStrategy;
  extraSetup: QueueSetup[];
  /** golevelup's assertQueueErrorHandler, and how to open the channels it (and the declaration before it) runs on. */
  assertQueueErrorHandler?: AssertQueueErrorHandler;
  openScratchChannel?: () => Promise<Channel>;
  /** Publishes a fresh copy of a delivery to `queue` (confirmed); set for quorum queues, whose requeues count against the delivery limit. */
  requeueCopy?: (queue: string, message: ConsumeMessage) => Promise<void>;
  /** Set for a batch handler (the only route of its queue): deliveries are gathered and dispatched in batches. */
  batch?: ResolvedBatch;
  /**
   * One delivery at a time, in delivery order (a partition queue). Such a consumer never sends
   * basic.cancel while it holds deliveries: with a single active consumer the broker would hand the
   * queue to the next consumer at once, ahead of the deliveries still held here. It lets go by closing
   * its channel instead, after the running handler settles: the held deliveries return to the head of
   * the queue before the next consumer gets any.
   */
  ordered?: boolean;
  /** Called after each basic.consume-ok. */
  onConsuming?: () => void;
  /** Ordered mode: called after each delivery of `channel` was dispatched (settled or left for its channel's close). */
  onHandled?: () => void;
  /** Stream readers: the `x-stream-offset` of each subscription, its position after each settled delivery, and a flush at stop. */
  reader?: StreamReader;
}

/**
 * One queue and the handlers that consume it (several RPC handlers may share a
 * queue, dispatched by routing key). Declares the queue and its bindings and
 * starts consuming on every new channel; stays cancelled across reconnects once
 * cancelled; counts deliveries in flight for graceful shutdown.
 */
export class QueueConsumer implements DispatchSource {
  queue: string;
  readonly routes: HandlerRoute[];
  readonly fallbackFailure: FailureStrategy;
  readonly requeueCopy?: (message: ConsumeMessage) => Promise<void>;
  readonly countsDeliveries: boolean;
  /** Ordered mode (see DispatchSource.returnInOrder): lets go of the channel, so that its close returns the delivery in order. */
  readonly returnInOrder?: (channel: Channel) => void;
  private readonly logger = new Logger(QueueConsumer.name);
  private readonly single: HandlerRoute | undefined;
  private consumerTag?: string;
  /** The tag of the last consume, kept while cancelled: golevelup's cancelConsumer/resumeConsumer name consumers by tag. */
  private lastTag?: string;
  private consumingOn?: Channel;
  private cancelled = false;
  private stopping = false;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly closedChannels = new WeakSet<Channel>();
  /** Per channel, aborted once its deliveries are no longer wanted (see stopsAccepting()). */
  private readonly wanted = new Map<Channel, AbortController>();
  private readonly collector?: BatchCollector;
  /** Ordered mode: the delivery chain, and the channel being let go of (its later deliveries are left for the close to return). */
  private chain: Promise<void> = Promise.resolve();
  private releasing?: Channel;

  constructor(
    private readonly init: QueueConsumerInit,
    readonly channel: ManagedChannel,
    private readonly dispatcher: MessageDispatcher,
    private readonly topology: TopologyDeclarer,
  ) {
    this.queue = init.queue ?? '';
    this.routes = init.routes;
    this.fallbackFailure = init.fallbackFailure;
    this.single = init.routes.length === 1 ? init.routes[0] : undefined;
    this.countsDeliveries = isQuorum(init.queueOptions);
    const copy = init.requeueCopy;
    if (copy !== undefined) this.requeueCopy = (message) => copy(this.queue, message);
    if (init.ordered) this.returnInOrder = (channel) => void this.releaseChannel(channel);
    const batchRoute = init.routes[0];
    if (init.batch !== undefined) {
      this.collector = new BatchCollector(init.batch.size, init.batch.timeoutMs, (channel, messages) => {
        // dispatchBatch settles every delivery and never rejects; the handler below is a last line of defence.
        this.dispatcher.dispatchBatch(this, batchRoute, channel, messages).then(
          () => this.onDispatched(messages.length),
          (error: unknown) => this.onDispatchFailed(error, messages.length),
        );
      });
    }
  }

  /** The consumer tag while consuming. */
  get tag(): string | undefined {
    return this.consumerTag;
  }

  /** Handler names on this queue. */
  get handlerNames(): string[] {
    return this.routes.map((r) => r.descriptor.name);
  }

  /** The broker's tag of this consumer while consuming. */
  get currentTag(): string | undefined {
    return this.consumerTag;
  }

  /** Whether `tag` is, or was last, this consumer's tag. */
  hasTag(tag: string): boolean {
    return this.consumerTag === tag || this.lastTag === tag;
  }

  get isCancelled(): boolean {
    return this.cancelled;
  }

  get inFlightCount(): number {
    return this.inFlight;
  }

  route(routingKey: string): HandlerRoute | undefined {
    if (this.single !== undefined) return this.single;
    for (const route of this.routes) if (route.matches(routingKey)) return route;
    return undefined;
  }

  /** The channel setup: replayed on every new channel. */
  readonly setup = async (channel: Channel): Promise<void> => {
    this.queue = await this.declare(channel);
    for (const extra of this.init.extraSetup) await extra(channel, this.queue);
    for (const binding of this.init.bindings) await this.topology.bindQueue(channel, this.queue, binding);
    this.consumerTag = undefined;
    this.consumingOn = undefined;
    // Deliveries of a closed channel can no longer be settled: one held on it is let go (see accepts()).
    channel.once('close', () => {
      this.closedChannels.add(channel);
      this.abortUnwanted();
      // A partial batch of this channel is redelivered by the broker: drop it rather than run it twice.
      const dropped = this.collector?.discard(channel) ?? 0;
      if (dropped > 0) this.onDispatched(dropped);
    });
    if (!this.cancelled && !this.stopping) await this.consume(channel);
  };

  /**
   * Declares the queue. With an assertQueueErrorHandler the declaration runs on a channel of its own,
   * so that a refusal (which closes the channel it came on) leaves the consumer's channel usable, and
   * the handler gets a fresh channel to repair the queue on.
   */
  private async declare(channel: Channel): Promise<string> {
    const { queue, queueOptions, assertQueueErrorHandler, openScratchChannel } = this.init;
    if (queue === undefined || assertQueueErrorHandler === undefined || openScratchChannel === undefined) {
      return this.topology.declareQueue(channel, queue, queueOptions);
    }
    const withScratch = async <T>(fn: (scratch: Channel) => Promise<T>): Promise<T> => {
      const scratch = await openScratchChannel();
      try {
        return await fn(scratch);
      } finally {
        await scratch.close().catch(() => undefined);
      }
    };
    let refusal: unknown;
    try {
      return await withScratch((scratch) => this.topology.declareQueue(scratch, queue, queueOptions));
    } catch (error) {
      refusal = error;
    }
    this.logger.warn(`Queue '${queue}': ${errorText(refusal)}; calling its assertQueueErrorHandler`);
    return withScratch(async (scratch) => assertQueueErrorHandler(scratch, queue, toAssertQueueOptions(queueOptions, true), refusal));
  }

  accepts(channel: Channel): boolean {
    return !this.stopping && !this.cancelled && !this.closedChannels.has(channel) && this.releasing !== channel;
  }

  hasClosed(channel: Channel): boolean {
    return this.closedChannels.has(channel);
  }

  stopsAccepting(channel: Channel): AbortSignal {
    if (!this.accepts(channel)) return AbortSignal.abort();
    let controller = this.wanted.get(channel);
    if (controller === undefined) {
      controller = new AbortController();
      this.wanted.set(channel, controller);
    }
    return controller.signal;
  }

  /** Aborts the signals of channels no longer accepted; called wherever accepts() may turn false. */
  private abortUnwanted(): void {
    for (const [channel, controller] of this.wanted) {
      if (this.accepts(channel)) continue;
      this.wanted.delete(channel);
      controller.abort();
    }
  }

  /** Stops taking new messages; survives reconnects until resume(). */
  async cancel(): Promise<void> {
    this.cancelled = true;
    this.abortUnwanted();
    this.collector?.flush();
    if (this.init.ordered) await this.release();
    else await this.cancelOnBroker();
  }

  /**
   * Ordered mode: lets the queue go to the next consumer in line without reordering it. The running
   * handler finishes and settles; the deliveries held behind it are not run; then the channel closes,
   * which returns them to the head of the queue, and a new channel subscribes again (at the back of
   * the line), unless the consumer is cancelled or stopping.
   */
  async release(): Promise<void> {
    const channel = this.channel.channel;
    if (channel !== undefined) await this.releaseChannel(channel);
  }

  private async releaseChannel(channel: Channel): Promise<void> {
    if (this.releasing === channel || this.closedChannels.has(channel)) return;
    this.releasing = channel;
    this.abortUnwanted();
    await this.chain;
    // Stopping closes the channel itself, once the handlers in flight are done.
    // Resolves once the broker closed the channel: when cancel() resolves, the broker lists no consumer of it.
    if (this.channel.channel === channel && !this.stopping) await this.channel.recycle();
  }

  async resume(): Promise<void> {
    this.cancelled = false;
    const channel = this.channel.channel;
    if (channel && this.consumerTag === undefined && !this.stopping) await this.consume(channel);
  }

  /** Shutdown: cancel, then wait (up to `timeoutMs`) for handlers in flight. Returns how many were still running. */
  async stop(timeoutMs: number): Promise<number> {
    this.stopping = true;
    this.abortUnwanted();
    // A partial batch was delivered before the stop: finish it like any handler in flight.
    this.collector?.flush();
    if (!this.init.ordered) await this.cancelOnBroker();
    const deadline = Date.now() + timeoutMs;
    if (this.inFlight > 0) await this.waitIdle(timeoutMs);
    await this.init.reader?.close(Math.max(0, deadline - Date.now()));
    if (this.init.ordered) await this.channel.close();
    return this.inFlight;
  }

  private async waitIdle(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async consume(channel: Channel): Promise<void> {
    const options: Options.Consume = { ...this.init.consumerOptions, noAck: false };
    if (this.init.reader !== undefined) {
      const own = (this.init.consumerOptions?.arguments ?? {}) as Record<string, unknown>;
      options.arguments = { ...own, ...(await this.init.reader.consumeArguments()) };
    }
    const reply = await channel.consume(this.queue, (message) => this.onMessage(channel, message), options);
    this.consumerTag = reply.consumerTag;
    this.lastTag = reply.consumerTag;
    this.consumingOn = channel;
    this.init.onConsuming?.();
  }

  private async cancelOnBroker(): Promise<void> {
    const tag = this.consumerTag;
    const channel = this.consumingOn;
    this.consumerTag = undefined;
    if (tag !== undefined && channel !== undefined && channel === this.channel.channel) {
      await channel.cancel(tag).catch((error: Error) => this.logger.debug(`cancel ${this.queue}: ${error.message}`));
    }
  }

  /** amqplib's delivery callback: never throws (an exception here would break the channel's frame handling). */
  private onMessage(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled us (queue deleted, quorum leader moved): re-declare and consume on a new channel.
      this.logger.warn(`Queue '${this.queue}': the broker cancelled the consumer; re-subscribing`);
      this.consumerTag = undefined;
      if (this.init.ordered) {
        // The running handler settles first; the channel's close then returns what it held, in order.
        void this.releaseChannel(channel);
        return;
      }
      try {
        void this.channel.recycle();
      } catch (error) {
        this.logger.error(`Queue '${this.queue}': could not re-subscribe: ${errorText(error)}`);
      }
      return;
    }
    if ((this.stopping || this.cancelled) && !this.init.ordered) {
      // Delivered after basic.cancel: give it back untouched, it was not processed. Counted in flight
      // so that shutdown waits for a copy's confirm before closing the channel.
      this.inFlight++;
      this.dispatcher.giveBack(this, channel, message).then(() => this.onDispatched(), this.onDispatchFailed);
      return;
    }
    this.inFlight++;
    if (this.collector !== undefined) {
      this.collector.add(channel, message);
      return;
    }
    if (this.init.ordered) {
      this.chain = this.chain.then(() => this.dispatchInOrder(channel, message));
      return;
    }
    // dispatch() settles every delivery and neither throws nor rejects; the handlers below are a last line of defence.
    try {
      this.dispatcher.dispatch(this, channel, message).then(() => this.onDispatched(), this.onDispatchFailed);
    } catch (error) {
      this.onDispatchFailed(error);
    }
  }

  /** Never rejects. A delivery no longer wanted is left unsettled: the close of its channel returns it, in order. */
  private async dispatchInOrder(channel: Channel, message: ConsumeMessage): Promise<void> {
    if (!this.accepts(channel)) {
      this.onDispatched();
      return;
    }
    let outcome: ConsumeOutcome;
    try {
      outcome = await this.dispatcher.dispatch(this, channel, message);
    } catch (error) {
      this.onDispatchFailed(error);
      return;
    }
    // Settled: counted out exactly once below, whatever the hooks throw (a second count would wake shutdown
    // while a later delivery is still in flight).
    try {
      if (outcome !== 'requeued') this.init.reader?.handled(message);
    } catch (error) {
      this.logger.error(`Queue '${this.queue}': could not record the stream position of a settled delivery: ${errorText(error)}`);
    }
    this.onDispatched();
    try {
      this.init.onHandled?.();
    } catch (error) {
      this.logger.error(`Queue '${this.queue}': the hook after a settled delivery failed: ${errorText(error)}`);
    }
  }

  private readonly onDispatched = (count = 1): void => {
    this.inFlight -= count;
    if (this.inFlight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const waiter of waiters) waiter();
    }
  };

  private readonly onDispatchFailed = (error: unknown, count = 1): void => {
    this.logger.error(`Queue '${this.queue}': dispatch failed: ${errorText(error)}`);
    this.onDispatched(count);
  };
}
