import type { ConfirmChannel, Message, Options } from 'amqplib';
import { ConnectionClosedError } from '../errors/connection-closed.error';
import { PublishFailedError } from '../errors/publish-failed.error';
import { PublishNackedError } from '../errors/publish-nacked.error';
import { PublishTimeoutError } from '../errors/publish-timeout.error';
import { UnroutableMessageError } from '../errors/unroutable-message.error';
import type { ConnectionHost } from '../connection/connection-host';
import type { ManagedChannel } from '../connection/managed-channel';
import { DeadlineSweeper } from './deadline-sweeper';

const EMPTY = Buffer.alloc(0);

/** One message waiting for the broker's confirm. */
interface PendingPublish {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
  resolve: () => void;
  reject: (error: Error) => void;
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
}

/**
 * A nacked message is re-sent on a fresh channel after these delays (the last one repeats)
 * until its publish timeout; only then is the nack reported. On RabbitMQ 3.10 a channel whose
 * first publish to a quorum queue comes right after the queue's leader crashed nacks every
 * publish to that queue until the old node returns; a channel opened a moment later works,
 * but one opened too soon is poisoned the same way — so one re-send is not enough.
 */
const NACK_BACKOFF_MS = [100, 250, 500, 1000, 2000];

/**
 * Publishes with publisher confirms on one confirm channel. A publish resolves
 * when the broker confirms it and rejects with a typed error on nack, timeout or
 * (mandatory) return. Messages written to a channel that closes before its confirm
 * are re-sent on the next channel: at-least-once, never silently dropped.
 */
export class Publisher {
  private readonly channel: ManagedChannel;
  private readonly queued: PendingPublish[] = [];
  /** Written and not yet confirmed, in the order written. */
  private readonly written = new Set<PendingPublish>();
  /** Nacked, waiting for their re-send. */
  private readonly nacked = new Set<PendingPublish>();
  private resendTimer?: NodeJS.Timeout;
  private draining = false;
  private lastClose: { code?: number; message: string } | undefined;
  private closing = false;
  private readonly deadlines = new DeadlineSweeper<PendingPublish>((pending, timeoutMs) => this.timeOut(pending, timeoutMs));

  constructor(
    private readonly host: ConnectionHost,
    private readonly connectionName: string,
  ) {
    this.channel = host.createChannel('publisher', {
      confirm: true,
      onReady: () => this.onReady(),
      onLost: (channel) => this.onChannelLost(channel as ConfirmChannel),
    });
    void this.channel.addSetup(async (channel) => {
      channel.on('return', (message: Message) => this.onReturn(message));
      channel.on('error', (error: Error & { code?: number }) => {
        this.lastClose = { code: error.code, message: error.message };
      });
      channel.on('drain', () => {
        this.draining = false;
        this.flush();
      });
    });
    // After a (re)connect, what waited goes out once every channel is set up: a handler's queue
    // and its bindings are declared by the handler's own channel, and a message sent before
    // that would be unroutable (a new or server-named queue) or lost to no queue.
    host.status$.subscribe((status) => {
      if (status === 'connected') this.flush();
    });
  }

  /** Messages accepted and not yet settled. */
  get pendingCount(): number {
    return this.queued.length + this.written.size + this.nacked.size;
  }

  publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish, timeoutMs: number): Promise<void> {
    if (this.closing) return Promise.reject(new ConnectionClosedError(this.connectionName, 'before the message was published'));
    return new Promise<void>((resolve, reject) => {
      const pending: PendingPublish = {
        exchange,
        routingKey,
        content,
        options,
        resolve,
        reject,
        channel: undefined,
        returned: undefined,
        nacks: 0,
        sent: false,
        resendAt: 0,
        done: false,
        deadline: 0,
        timeoutMs,
      };
      this.deadlines.add(pending, timeoutMs);
      const channel = this.channel.confirmChannel;
      if (channel && this.host.isConnected && !this.draining && this.queued.length === 0) this.write(pending, channel);
      else this.queued.push(pending);
    });
  }

  /**
   * Waits (up to `timeoutMs`) for every accepted message to be confirmed or rejected.
   * Without a connection, messages still queued cannot go out: it does not wait for
   * them (close() then rejects them), so shutting down without a broker is prompt.
   */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pendingCount > 0 && Date.now() < deadline && (this.host.isConnected || this.written.size > 0)) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Stops accepting messages; rejects those still waiting. */
  close(): void {
    this.closing = true;
    this.deadlines.stop();
    if (this.resendTimer) clearTimeout(this.resendTimer);
    this.resendTimer = undefined;
    // Those waiting for a re-send after a nack were refused by the broker: that is what the caller hears.
    for (const pending of this.nacked) this.settle(pending, new PublishNackedError(pending.exchange, pending.routingKey, pending.nacks));
    this.nacked.clear();
    for (const pending of this.queued.splice(0)) {
      this.settle(
        pending,
        pending.nacks > 0
          ? new PublishNackedError(pending.exchange, pending.routingKey, pending.nacks)
          : new ConnectionClosedError(this.connectionName, 'before the message was published; it was not sent'),
      );
    }
  }

  /** Writes to the channel; false (and the message back at the head of the queue) when the channel is closing. */
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
    } catch {
      // The channel closed under us: keep the message for the next channel. (amqplib has
      // already queued this write's confirm callback; the channel check in onConfirm drops it.)
      this.written.delete(pending);
      pending.channel = undefined;
      this.queued.unshift(pending);
      return false;
    }
  }

  private onConfirm(pending: PendingPublish, channel: ConfirmChannel, error: unknown): void {
    // A callback for an earlier write of a message since re-sent elsewhere: not this write's outcome.
    if (pending.channel !== channel || !this.written.delete(pending)) return;
    if (pending.done) return;
    if (!error) {
      if (pending.returned) {
        this.settle(pending, new UnroutableMessageError(pending.exchange, pending.routingKey, pending.returned.replyText));
      } else {
        this.settle(pending, undefined);
      }
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    if (message === 'message nacked') {
      pending.channel = undefined;
      pending.returned = undefined;
      if (this.closing) {
        this.settle(pending, new PublishNackedError(pending.exchange, pending.routingKey, ++pending.nacks));
        return;
      }
      // Re-send on a fresh channel after a backoff, until the publish timeout (which then reports the nack).
      const delay = NACK_BACKOFF_MS[Math.min(pending.nacks++, NACK_BACKOFF_MS.length - 1)];
      pending.resendAt = Date.now() + delay;
      this.nacked.add(pending);
      this.scheduleResend();
      if (this.channel.confirmChannel === channel) this.channel.recycle();
      return;
    }
    // 'channel closed': the broker closed the channel because of some publish, or the connection dropped.
    const close = this.lastClose;
    if (close?.code === 404 && close.message.includes(`exchange '${pending.exchange}'`)) {
      this.settle(pending, new PublishFailedError(pending.exchange, pending.routingKey, 404, close.message));
      return;
    }
    pending.channel = undefined;
    pending.returned = undefined;
    this.queued.push(pending);
  }

  /**
   * basic.return comes before the confirm of the same message: mark the oldest
   * written, unconfirmed publish with the same id, exchange and routing key.
   * Returns are rare, so the lookup scans the in-flight records instead of
   * indexing every publish.
   */
  private onReturn(message: Message): void {
    const id = message.properties.messageId as string | undefined;
    if (id === undefined) return;
    const { exchange, routingKey } = message.fields;
    const pending = this.deadlines.find(
      (p) => p.channel !== undefined && !p.returned && p.options.messageId === id && p.exchange === exchange && p.routingKey === routingKey,
    );
    if (pending) pending.returned = { replyText: (message.fields as { replyText?: string }).replyText ?? 'NO_ROUTE' };
  }

  private onReady(): void {
    this.draining = false;
    this.lastClose = undefined;
    this.flush();
  }

  /**
   * The channel is gone. amqplib fails the confirm callbacks of its unconfirmed writes with
   * 'channel closed', but stops at the first gap in its confirm window (a message confirmed
   * out of order), so some callbacks never come: re-queue, in write order, whatever written
   * on that channel is still waiting.
   */
  private onChannelLost(channel: ConfirmChannel): void {
    const orphans: PendingPublish[] = [];
    for (const pending of this.written) {
      if (pending.channel !== channel) continue;
      this.written.delete(pending);
      pending.channel = undefined;
      pending.returned = undefined;
      if (!pending.done) orphans.push(pending);
    }
    if (orphans.length > 0) this.queued.push(...orphans);
  }

  private scheduleResend(): void {
    if (this.resendTimer || this.nacked.size === 0) return;
    let next = Infinity;
    for (const pending of this.nacked) next = Math.min(next, pending.resendAt);
    this.resendTimer = setTimeout(() => {
      this.resendTimer = undefined;
      const now = Date.now();
      for (const pending of this.nacked) {
        if (pending.resendAt > now) continue;
        this.nacked.delete(pending);
        if (!pending.done) this.queued.push(pending);
      }
      this.flush();
      this.scheduleResend();
    }, Math.max(0, next - Date.now()));
    this.resendTimer.unref();
  }

  private flush(): void {
    if (!this.host.isConnected) return;
    const channel = this.channel.confirmChannel;
    while (channel && !this.draining && this.queued.length > 0 && this.channel.confirmChannel === channel) {
      const pending = this.queued.shift() as PendingPublish;
      // A closing channel refuses writes; the next channel's onReady flushes again.
      if (!pending.done && !this.write(pending, channel)) return;
    }
  }

  private timeOut(pending: PendingPublish, timeoutMs: number): void {
    if (pending.done) return;
    const index = this.queued.indexOf(pending);
    if (index >= 0) this.queued.splice(index, 1);
    this.nacked.delete(pending);
    // Nacked and not on a channel now (waiting for its re-send): the nack is what went wrong.
    if (pending.nacks > 0 && pending.channel === undefined) {
      this.settle(pending, new PublishNackedError(pending.exchange, pending.routingKey, pending.nacks));
      return;
    }
    this.settle(pending, new PublishTimeoutError(pending.exchange, pending.routingKey, timeoutMs, this.host.isConnected, pending.sent));
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
