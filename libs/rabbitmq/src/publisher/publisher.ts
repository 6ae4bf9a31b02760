import { randomBytes } from 'node:crypto';
import type { Channel, ConfirmChannel, Message, Options } from 'amqplib';
import { BrokerBlockedError } from '../errors/broker-blocked.error';
import { ConnectionClosedError } from '../errors/connection-closed.error';
import { MessageEncodingError } from '../errors/message-encoding.error';
import { PublishFailedError } from '../errors/publish-failed.error';
import { PublishNackedError } from '../errors/publish-nacked.error';
import { PublishTimeoutError } from '../errors/publish-timeout.error';
import { UnroutableMessageError } from '../errors/unroutable-message.error';
import type { ConnectionHost } from '../connection/connection-host';
import type { ManagedChannel } from '../connection/managed-channel';
import { WARREN_HEADERS } from '../message/warren-headers';
import { DeadlineSweeper } from './deadline-sweeper';
import { findEncodingProblem } from './publish-encoding';
import { WriteLog } from './write-log';
import { publishRefusalOf, refusesTheExchange, type PublishRefusal } from './publish-refusal';

const EMPTY = Buffer.alloc(0);

/** One message waiting for the broker's confirm. */
interface PendingPublish {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
  resolve: () => void;
  reject: (error: Error) => void;
  /** What a basic.return is matched by: the messageId, or the publish id header when there is none. */
  returnId: string;
  /** The channel it was written to; undefined while queued. */
  channel: ConfirmChannel | undefined;
  returned: { replyText: string } | undefined;
  /** Times the broker nacked it. */
  nacks: number;
  /** Written to a channel at least once (so it may have reached the broker). */
  sent: boolean;
  /** After a nack: when it may be re-sent (ms since the epoch). */
  resendAt: number;
  done: boolean;
  deadline: number;
  timeoutMs: number;
  /** Its place in the write log while written to the main channel and not settled (-1 otherwise). */
  logSlot: number;
}

/**
 * A nacked message is re-sent after these delays (the last one repeats) until its
 * publish timeout; only then is the nack reported. On RabbitMQ 3.10 a channel whose
 * first publish to a quorum queue comes right after the queue's leader crashed nacks
 * every publish to that queue until the old node returns; a channel opened a moment
 * later works, but one opened too soon is poisoned the same way — so one re-send is not
 * enough, and a channel that nacked is replaced once nothing else is in flight on it.
 */
const NACK_BACKOFF_MS = [100, 250, 500, 1000, 2000];

/** The probe channel is needed only while new kinds of message appear: it is closed after this long without one. */
const PROBE_IDLE_MS = 60_000;

/**
 * Publishes with publisher confirms. A publish resolves when the broker confirms it
 * and rejects with a typed error on nack, timeout, (mandatory) return, refusal or a
 * message that cannot be encoded.
 *
 * One bad message never hurts the others:
 * - what amqplib cannot encode is rejected before anything is written;
 * - the broker refuses a publish by closing its channel, which loses the confirms of
 *   everything in flight on it. So good traffic runs on a channel that only carries
 *   publishes of a kind the broker already accepted on this connection (the exchange,
 *   and any `userId`); the first publish of a new kind goes alone on a second, probe
 *   channel. A refusal there closes only the probe and names exactly one message;
 * - a channel that nacked is drained, then replaced: messages that were not nacked are
 *   never re-sent;
 * - returns are matched by message id, and messages without one carry a publish id.
 * Messages written to a channel that closes before its confirm (connection loss) are
 * re-sent on the next channel: at-least-once, never silently dropped.
 */
export class Publisher {
  private readonly main: ManagedChannel;
  private probeChannel?: ManagedChannel;
  /** Closes the probe channel once it has had nothing to do for `probeIdleMs`. */
  private probeIdleTimer?: NodeJS.Timeout;
  /** Waiting for the main channel. */
  private queued: PendingPublish[] = [];
  /** Waiting for the probe channel: of a kind the broker has not accepted yet. */
  private unproven: PendingPublish[] = [];
  /** The one message on the probe channel. */
  private probing: PendingPublish | undefined;
  /** Written to the main channel and not yet confirmed, in the order written. */
  private readonly written = new WriteLog<PendingPublish>();
  /** Nacked, waiting for their re-send. */
  private readonly nacked = new Set<PendingPublish>();
  private readonly provenExchanges = new Set<string>();
  /** The exchange most recently found proven: most traffic goes to one exchange at a time. */
  private lastProven: string | undefined;
  private readonly provenUsers = new Set<string>();
  /** A main channel that nacked (or could not encode): nothing more is written to it, and it is replaced once idle. */
  private retiring: ConfirmChannel | undefined;
  /** Channels amqplib is closing (its confirm callbacks then fail): set before those callbacks run. */
  private readonly closing = new WeakSet<Channel>();
  private readonly refusals = new WeakMap<Channel, PublishRefusal>();
  private resendTimer?: NodeJS.Timeout;
  private draining = false;
  private stopped = false;
  private readonly idPrefix = randomBytes(6).toString('hex');
  private idSequence = 0;
  private readonly deadlines = new DeadlineSweeper<PendingPublish>((pending, timeoutMs) => this.timeOut(pending, timeoutMs));

  constructor(
    private readonly host: ConnectionHost,
    private readonly connectionName: string,
    private readonly probeIdleMs = PROBE_IDLE_MS,
  ) {
    this.main = host.createChannel('publisher', {
      confirm: true,
      onReady: () => this.onMainReady(),
      onLost: (channel) => this.onMainLost(channel as ConfirmChannel),
    });
    void this.main.addSetup(async (channel) => {
      this.watch(channel);
      channel.on('drain', () => {
        this.draining = false;
        this.flush();
      });
    });
    // After a (re)connect, what waited goes out once every channel is set up: a handler's queue
    // and its bindings are declared by the handler's own channel, and a message sent before
    // that would be unroutable (a new or server-named queue) or lost to no queue.
    host.status$.subscribe((status) => {
      if (status === 'connected') {
        this.flush();
        this.pumpProbe();
      }
    });
  }

  /** Messages accepted and not yet settled (one that timed out counts no more, though its record waits for the broker). */
  get pendingCount(): number {
    let written = 0;
    for (const pending of this.written.toArray()) if (!pending.done) written++;
    return this.queued.length + this.unproven.length + written + this.nacked.size + (this.probing && !this.probing.done ? 1 : 0);
  }

  publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish, timeoutMs: number): Promise<void> {
    if (this.stopped) return Promise.reject(new ConnectionClosedError(this.connectionName, 'before the message was published'));
    const problem = findEncodingProblem(exchange, routingKey, content, options);
    if (problem) return Promise.reject(new MessageEncodingError(String(exchange), String(routingKey), problem.field, problem.valueType, problem.problem));
    let returnId: unknown = options.messageId;
    if (returnId === undefined || returnId === null) {
      returnId = `${this.idPrefix}.${++this.idSequence}`;
      options.headers = { ...(options.headers as Record<string, unknown> | undefined), [WARREN_HEADERS.publishId]: returnId };
    }
    return new Promise<void>((resolve, reject) => {
      const pending: PendingPublish = {
        exchange,
        routingKey,
        content,
        options,
        resolve,
        reject,
        returnId: returnId as string,
        channel: undefined,
        returned: undefined,
        nacks: 0,
        sent: false,
        resendAt: 0,
        done: false,
        deadline: 0,
        timeoutMs,
        logSlot: -1,
      };
      this.deadlines.add(pending, timeoutMs);
      this.enqueue(pending);
    });
  }

  /**
   * Waits (up to `timeoutMs`) for every accepted message to be confirmed or rejected.
   * Without a connection, messages still queued cannot go out: it does not wait for
   * them (close() then rejects them), so shutting down without a broker is prompt.
   */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pendingCount > 0 && Date.now() < deadline) {
      if (!this.host.isConnected && this.written.size === 0 && !this.probing) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Stops accepting messages; rejects those still waiting. */
  close(): void {
    this.stopped = true;
    this.deadlines.stop();
    if (this.probeIdleTimer) clearTimeout(this.probeIdleTimer);
    this.probeIdleTimer = undefined;
    if (this.resendTimer) clearTimeout(this.resendTimer);
    this.resendTimer = undefined;
    // Those waiting for a re-send after a nack were refused by the broker: that is what the caller hears.
    for (const pending of this.nacked) this.settle(pending, this.nackError(pending));
    this.nacked.clear();
    const waiting = [...this.queued.splice(0), ...this.unproven.splice(0)];
    for (const pending of waiting) {
      this.settle(
        pending,
        pending.nacks > 0 ? this.nackError(pending) : new ConnectionClosedError(this.connectionName, 'before the message was published; it was not sent'),
      );
    }
  }

  /** Routes a message to the main channel, or to the probe when the broker has not yet accepted its kind. */
  private enqueue(pending: PendingPublish): void {
    if (this.needsProbe(pending)) {
      this.unproven.push(pending);
      this.pumpProbe();
      return;
    }
    const channel = this.main.confirmChannel;
    if (channel && this.queued.length === 0 && this.canWriteMain(channel)) this.write(pending, channel);
    else this.queued.push(pending);
  }

  private needsProbe(pending: PendingPublish): boolean {
    if (pending.exchange !== this.lastProven) {
      if (!this.provenExchanges.has(pending.exchange)) return true;
      this.lastProven = pending.exchange;
    }
    const userId = pending.options.userId;
    return userId !== undefined && userId !== null && !this.provenUsers.has(userId);
  }

  /** While the broker blocks the connection (memory or disk alarm) nothing is written: what waits was never sent, so a caller may retry it safely. */
  private canWriteMain(channel: ConfirmChannel): boolean {
    return this.host.isConnected && !this.host.isBlocked && !this.draining && channel !== this.retiring;
  }

  /** Records how the broker closed a channel, and that it is closing, before amqplib fails its confirm callbacks. */
  private watch(channel: Channel): void {
    channel.on('error', (error: unknown) => {
      const refusal = publishRefusalOf(error);
      if (refusal) this.refusals.set(channel, refusal);
    });
    channel.prependListener('close', () => this.closing.add(channel));
    channel.on('return', (message: Message) => this.onReturn(channel, message));
  }

  /** Writes to the main channel; false (and the message back at the head of the queue) when the channel is closing. */
  private write(pending: PendingPublish, channel: ConfirmChannel): boolean {
    pending.channel = channel;
    this.written.add(pending);
    try {
      const hasRoom = channel.publish(pending.exchange, pending.routingKey, pending.content, pending.options, (error) =>
        this.onConfirm(pending, channel, error),
      );
      pending.sent = true;
      if (!hasRoom) this.draining = true;
      return true;
    } catch (error) {
      this.written.delete(pending);
      pending.channel = undefined;
      if (isEncodingFailure(error)) {
        this.rejectUnencodable(pending, error);
        return true;
      }
      // The channel closed under us: keep the message for the next channel.
      this.queued.unshift(pending);
      return false;
    }
  }

  /**
   * amqplib failed to encode what the up-front check let through. amqplib 2 encodes a
   * message before it queues its confirm callback, so the channel's confirm window is
   * untouched and the channel stays in use.
   */
  private rejectUnencodable(pending: PendingPublish, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    this.settle(pending, new MessageEncodingError(pending.exchange, pending.routingKey, 'message', 'not encodable', reason, error));
  }

  private onConfirm(pending: PendingPublish, channel: ConfirmChannel, error: unknown): void {
    // A callback for an earlier write of a message since re-sent elsewhere: not this write's outcome.
    if (pending.channel !== channel || !this.written.has(pending)) return;
    // Lost with its channel: onMainLost re-queues, in write order, all that was in flight on it.
    if (error && this.closing.has(channel)) return;
    this.written.delete(pending);
    pending.channel = undefined;
    if (!error) {
      this.confirmed(pending);
    } else {
      this.onNack(pending);
      this.retire(channel);
    }
    if (this.retiring === channel) this.replaceIfIdle(channel);
  }

  private confirmed(pending: PendingPublish): void {
    if (pending.returned) this.settle(pending, new UnroutableMessageError(pending.exchange, pending.routingKey, pending.returned.replyText));
    else this.settle(pending, undefined);
  }

  private onNack(pending: PendingPublish): void {
    pending.returned = undefined;
    pending.nacks++;
    if (pending.done) return;
    if (this.stopped) {
      this.settle(pending, this.nackError(pending));
      return;
    }
    // Re-send after a backoff, until the publish timeout (which then reports the nack).
    pending.resendAt = Date.now() + NACK_BACKOFF_MS[Math.min(pending.nacks - 1, NACK_BACKOFF_MS.length - 1)];
    this.nacked.add(pending);
    this.scheduleResend();
  }

  /** Stops writing to a main channel; it is closed and reopened once nothing is in flight on it. */
  private retire(channel: ConfirmChannel): void {
    if (channel !== this.main.confirmChannel || this.retiring === channel) return;
    this.retiring = channel;
    this.replaceIfIdle(channel);
  }

  private replaceIfIdle(channel: ConfirmChannel): void {
    if (this.written.some((pending) => pending.channel === channel && !pending.done)) return;
    if (this.main.confirmChannel === channel) void this.main.recycle();
  }

  /**
   * basic.return comes before the confirm of the same message: mark the oldest
   * unconfirmed publish on that channel with the same id, exchange and routing key.
   * Returns are rare, so the lookup scans the in-flight records instead of
   * indexing every publish.
   */
  private onReturn(channel: Channel, message: Message): void {
    const { messageId, headers } = message.properties as { messageId?: unknown; headers?: Record<string, unknown> };
    const header = headers?.[WARREN_HEADERS.publishId];
    const id = typeof header === 'string' ? header : messageId;
    if (typeof id !== 'string') return;
    const { exchange, routingKey } = message.fields;
    const pending = this.deadlines.find(
      (p) => p.channel === channel && !p.returned && p.returnId === id && p.exchange === exchange && p.routingKey === routingKey,
    );
    if (pending) pending.returned = { replyText: (message.fields as { replyText?: string }).replyText ?? 'NO_ROUTE' };
  }

  private onMainReady(): void {
    this.draining = false;
    this.retiring = undefined;
    this.flush();
  }

  /**
   * The main channel is gone: re-queue, in write order, whatever written on it is still
   * waiting (onConfirm leaves those to this, so that they keep their order). If the broker closed it for refusing a
   * publish of a kind it had accepted before (permissions revoked, exchange deleted),
   * which message it was cannot be told: those kinds go back to the probe.
   */
  private onMainLost(channel: ConfirmChannel): void {
    const refused = this.publishRefusal(channel);
    const orphans: PendingPublish[] = [];
    for (const pending of this.written.toArray()) {
      if (pending.channel !== channel) continue;
      this.written.delete(pending);
      pending.channel = undefined;
      pending.returned = undefined;
      if (!pending.done) orphans.push(pending);
    }
    if (this.retiring === channel) this.retiring = undefined;
    if (orphans.length > 0 && this.stopped) {
      for (const pending of orphans) this.settle(pending, this.lostError());
    } else if (refused) {
      for (const pending of orphans) this.provenExchanges.delete(pending.exchange);
      this.lastProven = undefined;
      this.unproven.unshift(...orphans);
      this.pumpProbe();
    } else {
      this.queued.unshift(...orphans);
    }
  }

  /** The broker closed this channel because of a basic.publish (class 60, method 40). */
  private publishRefusal(channel: Channel): PublishRefusal | undefined {
    return this.refusals.get(channel);
  }

  // --- The probe: one message at a time, alone on its channel --------------------------

  private probe(): ManagedChannel {
    if (this.probeIdleTimer) clearTimeout(this.probeIdleTimer);
    this.probeIdleTimer = undefined;
    if (!this.probeChannel) {
      this.probeChannel = this.host.createChannel('publisher-probe', {
        confirm: true,
        onReady: () => this.pumpProbe(),
        onLost: (channel) => this.onProbeLost(channel as ConfirmChannel),
      });
      void this.probeChannel.addSetup(async (channel) => this.watch(channel));
    }
    return this.probeChannel;
  }

  /** Once nothing waits for the probe, closes its channel after a while: a steady stream of proven kinds needs one channel, not two. */
  private closeProbeWhenIdle(): void {
    if (!this.probeChannel || this.probeIdleTimer || this.stopped) return;
    this.probeIdleTimer = setTimeout(() => {
      this.probeIdleTimer = undefined;
      const channel = this.probeChannel;
      if (!channel || this.probing || this.unproven.length > 0) return;
      this.probeChannel = undefined;
      void this.host.removeChannel(channel).catch(() => undefined);
    }, this.probeIdleMs);
    this.probeIdleTimer.unref();
  }

  /** Sends the oldest message that still needs a probe; the others of kinds proven meanwhile go to the main channel. */
  private pumpProbe(): void {
    if (this.probing || this.stopped) return;
    if (this.unproven.length === 0) {
      this.closeProbeWhenIdle();
      return;
    }
    let next: PendingPublish | undefined;
    const rest: PendingPublish[] = [];
    let moved = false;
    for (const pending of this.unproven) {
      if (pending.done) continue;
      if (!this.needsProbe(pending)) {
        this.queued.push(pending);
        moved = true;
      } else if (next === undefined) next = pending;
      else rest.push(pending);
    }
    this.unproven = rest;
    if (moved) this.flush();
    if (next === undefined) {
      this.closeProbeWhenIdle();
      return;
    }
    const channel = this.probe().confirmChannel;
    if (!channel || !this.host.isConnected || this.host.isBlocked) {
      this.unproven.unshift(next);
      return;
    }
    this.probing = next;
    next.channel = channel;
    try {
      channel.publish(next.exchange, next.routingKey, next.content, next.options, (error) => this.onProbeConfirm(next, channel, error));
      next.sent = true;
    } catch (error) {
      this.probing = undefined;
      next.channel = undefined;
      if (isEncodingFailure(error)) {
        this.rejectUnencodable(next, error);
        this.pumpProbe();
      } else {
        this.unproven.unshift(next);
      }
    }
  }

  private onProbeConfirm(pending: PendingPublish, channel: ConfirmChannel, error: unknown): void {
    if (this.probing !== pending || pending.channel !== channel) return;
    if (error && this.closing.has(channel)) return; // onProbeLost decides
    this.probing = undefined;
    pending.channel = undefined;
    if (error) {
      this.onNack(pending);
      void this.probeChannel?.recycle();
      return;
    }
    this.provenExchanges.add(pending.exchange);
    const userId = pending.options.userId;
    if (userId !== undefined && userId !== null) this.provenUsers.add(userId);
    this.confirmed(pending);
    this.pumpProbe();
  }

  /**
   * The probe channel closed. If the broker refused its message, that message (and,
   * when the refusal is about the exchange, the others waiting for the same exchange,
   * none of which was sent) fails with the broker's code; otherwise it is sent again.
   */
  private onProbeLost(channel: ConfirmChannel): void {
    const pending = this.probing;
    if (!pending || pending.channel !== channel) return;
    this.probing = undefined;
    pending.channel = undefined;
    pending.returned = undefined;
    if (pending.done) return;
    const refusal = this.publishRefusal(channel);
    if (!refusal) {
      if (this.stopped) this.settle(pending, this.lostError());
      else this.unproven.unshift(pending);
      return;
    }
    this.settle(pending, new PublishFailedError(pending.exchange, pending.routingKey, refusal.code, refusal.text, true));
    if (refusesTheExchange(refusal)) {
      this.unproven = this.unproven.filter((other) => {
        if (other.exchange !== pending.exchange || other.done) return true;
        this.settle(other, new PublishFailedError(other.exchange, other.routingKey, refusal.code, refusal.text, false));
        return false;
      });
    }
    // The probe channel reopens by itself; its onReady sends the next one.
  }

  // --- Re-sends and timeouts ------------------------------------------------------------

  private scheduleResend(): void {
    if (this.resendTimer || this.nacked.size === 0) return;
    let next = Infinity;
    for (const pending of this.nacked) next = Math.min(next, pending.resendAt);
    this.resendTimer = setTimeout(
      () => {
        this.resendTimer = undefined;
        const now = Date.now();
        for (const pending of this.nacked) {
          if (pending.resendAt > now) continue;
          this.nacked.delete(pending);
          if (!pending.done) this.enqueue(pending);
        }
        this.scheduleResend();
      },
      Math.max(0, next - Date.now()),
    );
    this.resendTimer.unref();
  }

  private flush(): void {
    const channel = this.main.confirmChannel;
    if (!channel) return;
    while (this.queued.length > 0 && this.main.confirmChannel === channel && this.canWriteMain(channel)) {
      const pending = this.queued.shift() as PendingPublish;
      // A closing channel refuses writes; the next channel's onReady flushes again.
      if (!pending.done && !this.write(pending, channel)) return;
    }
  }

  private timeOut(pending: PendingPublish, timeoutMs: number): void {
    if (pending.done) return;
    removeFrom(this.queued, pending);
    removeFrom(this.unproven, pending);
    this.nacked.delete(pending);
    const channel = pending.channel;
    // Nacked and not on a channel now (waiting for its re-send): the nack is what went wrong.
    const blockedBy = this.host.blockedReason;
    if (pending.nacks > 0 && channel === undefined) {
      this.settle(pending, this.nackError(pending));
    } else if (blockedBy !== undefined) {
      this.settle(pending, new BrokerBlockedError(pending.exchange, pending.routingKey, timeoutMs, blockedBy, pending.sent));
    } else {
      this.settle(pending, new PublishTimeoutError(pending.exchange, pending.routingKey, timeoutMs, this.host.isConnected, pending.sent));
    }
    if (channel !== undefined && channel === this.retiring) this.replaceIfIdle(channel);
  }

  /** Shutting down with the message written and its confirm lost with the channel. */
  private lostError(): ConnectionClosedError {
    return new ConnectionClosedError(this.connectionName, 'before the broker confirmed the message; it may or may not have arrived');
  }

  private nackError(pending: PendingPublish): PublishNackedError {
    return new PublishNackedError(pending.exchange, pending.routingKey, pending.nacks);
  }

  private settle(pending: PendingPublish, error: Error | undefined): void {
    if (pending.done) return;
    pending.done = true;
    // The sweeper may hold the record a while longer; let the body go now.
    pending.content = EMPTY;
    this.deadlines.release(pending.timeoutMs);
    if (error) pending.reject(error);
    else pending.resolve();
  }
}

/** amqplib's encoder throws TypeError / RangeError; a closed channel throws its own IllegalOperationError. */
function isEncodingFailure(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError;
}

function removeFrom(list: PendingPublish[], pending: PendingPublish): void {
  const index = list.indexOf(pending);
  if (index >= 0) list.splice(index, 1);
}
