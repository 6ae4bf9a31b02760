import * as net from 'net';
import * as path from 'path';

/**
 * Records what a contender actually did on the wire, whatever it claims:
 * TCP_NODELAY on its broker sockets, persistent and confirmed publishes,
 * prefetch values, ack mode of its consumers, acks sent.
 *
 * Every contender (Warren included) talks to the broker through amqplib's
 * promise API, so patching the prototypes of amqplib's `lib/channel_model.js` and
 * `net.Socket#setNoDelay` (which amqplib calls once per connection) sees all
 * of it. Install the probe before any library is loaded. The benchmark's own
 * helper connection is excluded with `ignoreSocket` / `ignoreChannel`.
 */

const REPLY_TO_PREFIX = 'amq.rabbitmq.reply-to';

export interface WireObservation {
  /** Broker connections the contender opened, with the TCP_NODELAY each ended up with. */
  connections: number;
  noDelay: boolean[];
  /** Messages (not RPC replies) published by the contender. */
  published: number;
  publishedPersistent: number;
  publishedOnConfirmChannel: number;
  /** RPC replies published by the contender's server (to the direct reply-to pseudo-queue). */
  replies: number;
  /** Distinct prefetch values set (`basic.qos`), and whether any was channel-global. */
  prefetch: number[];
  globalPrefetch: boolean;
  /** Consumers started on queues, split by ack mode (direct reply-to consumers are not counted). */
  consumersWithAcks: number;
  consumersNoAck: number;
  acks: number;
  nacks: number;
}

interface AmqpChannelLike {
  constructor: { name: string };
}

class WireProbe {
  private installed = false;
  private readonly ignoredSockets = new WeakSet<object>();
  private readonly ignoredChannels = new WeakSet<object>();
  private sockets = new Map<net.Socket, boolean>();
  private readonly declaredQueues = new Set<string>();
  private readonly declaredExchanges = new Set<string>();
  private brokerPort = 5672;
  private counters = this.emptyCounters();

  private emptyCounters() {
    return {
      published: 0,
      publishedPersistent: 0,
      publishedOnConfirmChannel: 0,
      replies: 0,
      prefetch: new Set<number>(),
      globalPrefetch: false,
      consumersWithAcks: 0,
      consumersNoAck: 0,
      acks: 0,
      nacks: 0,
    };
  }

  install(brokerPort: number): void {
    if (this.installed) return;
    this.installed = true;
    this.brokerPort = brokerPort;
    // The patches below are `function`s: their `this` is the socket or channel being patched.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const probe = this;

    // Unbound on purpose: called back with the patched socket as `this`.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const originalSetNoDelay = net.Socket.prototype.setNoDelay;
    net.Socket.prototype.setNoDelay = function patchedSetNoDelay(this: net.Socket, noDelay?: boolean) {
      if (this.remotePort === probe.brokerPort) probe.sockets.set(this, noDelay !== false);
      return originalSetNoDelay.call(this, noDelay);
    };

    // amqplib 2 exports only its API entry points; the channel classes are reached by file path
    // (the same module instance amqplib itself loads, so the patches apply to every channel).
    const modelPath = path.join(path.dirname(require.resolve('amqplib')), 'lib', 'channel_model.js');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const model = require(modelPath) as {
      Channel: { prototype: Record<string, (...args: unknown[]) => unknown> };
      ConfirmChannel: new (...args: unknown[]) => unknown;
    };
    const proto = model.Channel.prototype;
    const ConfirmChannel = model.ConfirmChannel;

    const originalPublish = proto.publish;
    proto.publish = function patchedPublish(this: AmqpChannelLike, exchange: unknown, routingKey: unknown, content: unknown, options: unknown) {
      if (!probe.ignoredChannels.has(this)) {
        const opts = (options ?? {}) as { persistent?: boolean; deliveryMode?: number | boolean };
        const persistent = opts.persistent !== undefined ? !!opts.persistent : opts.deliveryMode === 2 || opts.deliveryMode === true;
        if (exchange === '' && typeof routingKey === 'string' && routingKey.startsWith(REPLY_TO_PREFIX)) {
          probe.counters.replies++;
        } else {
          probe.counters.published++;
          if (persistent) probe.counters.publishedPersistent++;
          if (this instanceof ConfirmChannel) probe.counters.publishedOnConfirmChannel++;
        }
      }
      return originalPublish.call(this, exchange, routingKey, content, options);
    };

    const originalQos = proto.qos;
    const patchedQos = function patchedQos(this: AmqpChannelLike, count: unknown, global: unknown) {
      if (!probe.ignoredChannels.has(this)) {
        probe.counters.prefetch.add(Number(count));
        if (global) probe.counters.globalPrefetch = true;
      }
      return originalQos.call(this, count, global);
    };
    proto.qos = patchedQos;
    proto.prefetch = patchedQos;

    const originalConsume = proto.consume;
    proto.consume = function patchedConsume(this: AmqpChannelLike, queue: unknown, callback: unknown, options: unknown) {
      if (!probe.ignoredChannels.has(this) && queue !== REPLY_TO_PREFIX) {
        if ((options as { noAck?: boolean } | undefined)?.noAck) probe.counters.consumersNoAck++;
        else probe.counters.consumersWithAcks++;
      }
      return originalConsume.call(this, queue, callback, options);
    };

    const recordName = (method: string, into: Set<string>) => {
      const original = proto[method];
      proto[method] = function patched(this: AmqpChannelLike, name: unknown, ...rest: unknown[]) {
        if (!probe.ignoredChannels.has(this) && typeof name === 'string' && name !== '') into.add(name);
        return original.call(this, name, ...rest);
      };
    };
    recordName('assertQueue', this.declaredQueues);
    recordName('assertExchange', this.declaredExchanges);

    const wrapCounter = (method: string, counter: 'acks' | 'nacks') => {
      const original = proto[method];
      proto[method] = function patched(this: AmqpChannelLike, ...args: unknown[]) {
        if (!probe.ignoredChannels.has(this)) probe.counters[counter]++;
        return original.apply(this, args);
      };
    };
    wrapCounter('ack', 'acks');
    wrapCounter('nack', 'nacks');
    wrapCounter('reject', 'nacks');
  }

  ignoreSocket(socket: object | undefined): void {
    if (socket) this.ignoredSockets.add(socket);
  }

  ignoreChannel(channel: object): void {
    this.ignoredChannels.add(channel);
  }

  /** The contender's live broker sockets (for closing its connections from the broker side). */
  contenderSockets(): net.Socket[] {
    return [...this.sockets.keys()].filter((s) => !this.ignoredSockets.has(s) && !s.destroyed);
  }

  /** Queues and exchanges the contender declared (by name), for cleanup and attribution. */
  declaredNames(): { queues: string[]; exchanges: string[] } {
    return { queues: [...this.declaredQueues], exchanges: [...this.declaredExchanges] };
  }

  /** Forget counters (not sockets): call before the part of a trial that should be observed. */
  resetCounters(): void {
    this.counters = this.emptyCounters();
  }

  snapshot(): WireObservation {
    const sockets = [...this.sockets.entries()].filter(([s]) => !this.ignoredSockets.has(s));
    const c = this.counters;
    return {
      connections: sockets.length,
      noDelay: sockets.map(([, v]) => v),
      published: c.published,
      publishedPersistent: c.publishedPersistent,
      publishedOnConfirmChannel: c.publishedOnConfirmChannel,
      replies: c.replies,
      prefetch: [...c.prefetch].sort((a, b) => a - b),
      globalPrefetch: c.globalPrefetch,
      consumersWithAcks: c.consumersWithAcks,
      consumersNoAck: c.consumersNoAck,
      acks: c.acks,
      nacks: c.nacks,
    };
  }
}

/** One probe per process (the trial child). */
export const wireProbe = new WireProbe();
