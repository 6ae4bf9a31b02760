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
  done: boolean;
  deadline: number;
  timeoutMs: number;
}

/** How many times a message is re-sent after the broker nacks it before the nack is reported. */
const NACK_RESENDS = 1;

/**
 * Publishes with publisher confirms on one confirm channel. A publish resolves
 * when the broker confirms it and rejects with a typed error on nack, timeout or
 * (mandatory) return. Messages written to a channel that closes before its confirm
 * are re-sent on the next channel: at-least-once, never silently dropped.
 */
export class Publisher {
  private readonly channel: ManagedChannel;
  private readonly queued: PendingPublish[] = [];
  private draining = false;
  private unconfirmed = 0;
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
      onLost: () => undefined,
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
  }

  /** Messages accepted and not yet settled. */
  get pendingCount(): number {
    return this.queued.length + this.unconfirmed;
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
        done: false,
        deadline: 0,
        timeoutMs,
      };
      this.deadlines.add(pending, timeoutMs);
      const channel = this.channel.confirmChannel;
      if (channel && !this.draining && this.queued.length === 0) this.write(pending, channel);
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
    while (this.pendingCount > 0 && Date.now() < deadline && (this.host.isConnected || this.unconfirmed > 0)) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Stops accepting messages; rejects those still waiting. */
  close(): void {
    this.closing = true;
    this.deadlines.stop();
    for (const pending of this.queued.splice(0)) {
      this.settle(pending, new ConnectionClosedError(this.connectionName, 'before the message was published; it was not sent'));
    }
  }

  private write(pending: PendingPublish, channel: ConfirmChannel): void {
    pending.channel = channel;
    this.unconfirmed++;
    try {
      const hasRoom = channel.publish(pending.exchange, pending.routingKey, pending.content, pending.options, (error) =>
        this.onConfirm(pending, channel, error),
      );
      if (!hasRoom) this.draining = true;
    } catch {
      // The channel closed under us: keep the message for the next channel.
      this.unconfirmed--;
      pending.channel = undefined;
      this.queued.unshift(pending);
    }
  }

  private onConfirm(pending: PendingPublish, channel: ConfirmChannel, error: unknown): void {
    this.unconfirmed--;
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
      // A quorum queue that just lost its leader can nack; one re-send on a fresh channel usually lands.
      if (++pending.nacks <= NACK_RESENDS && !this.closing) {
        pending.channel = undefined;
        pending.returned = undefined;
        this.queued.push(pending);
        if (this.channel.confirmChannel === channel) this.channel.recycle();
        return;
      }
      this.settle(pending, new PublishNackedError(pending.exchange, pending.routingKey));
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

  private flush(): void {
    const channel = this.channel.confirmChannel;
    while (channel && !this.draining && this.queued.length > 0 && this.channel.confirmChannel === channel) {
      const pending = this.queued.shift() as PendingPublish;
      if (!pending.done) this.write(pending, channel);
    }
  }

  private timeOut(pending: PendingPublish, timeoutMs: number): void {
    if (pending.done) return;
    const index = this.queued.indexOf(pending);
    if (index >= 0) this.queued.splice(index, 1);
    this.settle(pending, new PublishTimeoutError(pending.exchange, pending.routingKey, timeoutMs, this.host.isConnected));
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
