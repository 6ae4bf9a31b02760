import { Logger } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { ManagedChannel } from '../connection/managed-channel';
import type { BindingConfig, QueueOptions, RabbitHandlerConfig } from '../options/rabbitmq-options.interface';
import type { TopologyDeclarer } from '../topology/topology-declarer';
import type { FailureStrategy } from './failure-strategy';
import type { HandlerRoute } from './handler-route';
import type { DispatchSource, MessageDispatcher } from './message-dispatcher';
import { errorText } from '../errors/error-text';

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
  /** Publishes a fresh copy of a delivery to `queue` (confirmed); set for quorum queues, whose requeues count against the delivery limit. */
  requeueCopy?: (queue: string, message: ConsumeMessage) => Promise<void>;
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
  private readonly logger = new Logger(QueueConsumer.name);
  private readonly single: HandlerRoute | undefined;
  private consumerTag?: string;
  private consumingOn?: Channel;
  private cancelled = false;
  private stopping = false;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly closedChannels = new WeakSet<Channel>();

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
    const copy = init.requeueCopy;
    if (copy !== undefined) this.requeueCopy = (message) => copy(this.queue, message);
  }

  /** Handler names on this queue. */
  get handlerNames(): string[] {
    return this.routes.map((r) => r.descriptor.name);
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
    this.queue = await this.topology.declareQueue(channel, this.init.queue, this.init.queueOptions);
    for (const extra of this.init.extraSetup) await extra(channel, this.queue);
    for (const binding of this.init.bindings) await this.topology.bindQueue(channel, this.queue, binding);
    this.consumerTag = undefined;
    this.consumingOn = undefined;
    // Deliveries of a closed channel can no longer be settled: one held on it is let go (see accepts()).
    channel.once('close', () => this.closedChannels.add(channel));
    if (!this.cancelled && !this.stopping) await this.consume(channel);
  };

  accepts(channel: Channel): boolean {
    return !this.stopping && !this.cancelled && !this.closedChannels.has(channel);
  }

  hasClosed(channel: Channel): boolean {
    return this.closedChannels.has(channel);
  }

  /** Stops taking new messages; survives reconnects until resume(). */
  async cancel(): Promise<void> {
    this.cancelled = true;
    await this.cancelOnBroker();
  }

  async resume(): Promise<void> {
    this.cancelled = false;
    const channel = this.channel.channel;
    if (channel && this.consumerTag === undefined && !this.stopping) await this.consume(channel);
  }

  /** Shutdown: cancel, then wait (up to `timeoutMs`) for handlers in flight. Returns how many were still running. */
  async stop(timeoutMs: number): Promise<number> {
    this.stopping = true;
    await this.cancelOnBroker();
    if (this.inFlight === 0) return 0;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.inFlight;
  }

  private async consume(channel: Channel): Promise<void> {
    const reply = await channel.consume(this.queue, (message) => this.onMessage(channel, message), {
      ...this.init.consumerOptions,
      noAck: false,
    });
    this.consumerTag = reply.consumerTag;
    this.consumingOn = channel;
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
      try {
        this.channel.recycle();
      } catch (error) {
        this.logger.error(`Queue '${this.queue}': could not re-subscribe: ${errorText(error)}`);
      }
      return;
    }
    if (this.stopping || this.cancelled) {
      // Delivered after basic.cancel: give it back untouched, it was not processed. Counted in flight
      // so that shutdown waits for a copy's confirm before closing the channel.
      this.inFlight++;
      this.dispatcher.giveBack(this, channel, message).then(this.onDispatched, this.onDispatchFailed);
      return;
    }
    this.inFlight++;
    // dispatch() settles every delivery and neither throws nor rejects; the handlers below are a last line of defence.
    try {
      this.dispatcher.dispatch(this, channel, message).then(this.onDispatched, this.onDispatchFailed);
    } catch (error) {
      this.onDispatchFailed(error);
    }
  }

  private readonly onDispatched = (): void => {
    if (--this.inFlight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const waiter of waiters) waiter();
    }
  };

  private readonly onDispatchFailed = (error: unknown): void => {
    this.logger.error(`Queue '${this.queue}': dispatch failed: ${errorText(error)}`);
    this.onDispatched();
  };
}
