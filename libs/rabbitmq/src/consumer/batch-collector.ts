import type { Channel, ConsumeMessage } from 'amqplib';

/**
 * Gathers deliveries of one channel into batches: hands a batch over once it has `size`
 * messages, or `timeoutMs` after its first message arrived, whichever comes first. The
 * timer starts at a batch's first message and is not restarted by later ones, so no
 * message waits longer than `timeoutMs` before its handler runs.
 */
export class BatchCollector {
  private pending: ConsumeMessage[] = [];
  private pendingChannel?: Channel;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly size: number,
    private readonly timeoutMs: number,
    private readonly handOver: (channel: Channel, messages: ConsumeMessage[]) => void,
  ) {}

  /** Messages waiting for their batch to fill. */
  get waiting(): number {
    return this.pending.length;
  }

  add(channel: Channel, message: ConsumeMessage): void {
    // A batch holds deliveries of one channel only: their acks go to it.
    if (this.pendingChannel !== undefined && this.pendingChannel !== channel) this.flush();
    this.pendingChannel = channel;
    this.pending.push(message);
    if (this.pending.length >= this.size) this.flush();
    else if (this.timer === undefined) this.timer = setTimeout(() => this.flush(), this.timeoutMs);
  }

  /** Hands the partial batch over now (shutdown, cancel). */
  flush(): void {
    this.clearTimer();
    const channel = this.pendingChannel;
    const batch = this.pending;
    this.pending = [];
    this.pendingChannel = undefined;
    if (channel !== undefined && batch.length > 0) this.handOver(channel, batch);
  }

  /**
   * Forgets the partial batch if it came on `channel`, which has closed: its deliveries can no longer be
   * settled and the broker redelivers them, so running them now would run them twice. Returns how many.
   */
  discard(channel: Channel): number {
    if (this.pendingChannel !== channel) return 0;
    this.clearTimer();
    const count = this.pending.length;
    this.pending = [];
    this.pendingChannel = undefined;
    return count;
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
