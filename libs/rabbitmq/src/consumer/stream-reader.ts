import { Logger } from '@nestjs/common';
import type { ConsumeMessage } from 'amqplib';
import type { StreamConsumeOptions, StreamOffset } from '../options/stream-options.interface';
import { errorText } from '../errors/error-text';

/** The header a stream puts on each delivery: the message's offset in the stream. */
const OFFSET_HEADER = 'x-stream-offset';

/** `x-stream-offset` as the broker reads it: a keyword, a timestamp (seconds) or a long offset. */
export function offsetArgument(offset: StreamOffset): unknown {
  if (offset instanceof Date) return { '!': 'timestamp', value: Math.floor(offset.getTime() / 1000) };
  if (typeof offset === 'number') return { '!': 'long', value: offset };
  return offset;
}

/** The offset of a stream delivery, or undefined when it has none (not from a stream). */
export function offsetOf(message: ConsumeMessage): number | undefined {
  const headers: Record<string, unknown> | undefined = message.properties.headers;
  const value = headers?.[OFFSET_HEADER];
  return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
}

/**
 * One reader of a stream: where it starts on each (re)subscription, and its position, saved to its
 * store after each handled message. Saves are chained, one at a time, each with the latest offset,
 * so a store round trip never holds the reader back and the saved position lags the handled one by
 * at most the messages handled during one save. A store that cannot load fails the subscription
 * (retried with the channel's backoff) rather than start the reader from the wrong place.
 */
export class StreamReader {
  private readonly logger = new Logger('StreamReader');
  /** The last offset handled in this process. */
  private last?: number;
  private saved?: number;
  private saving?: Promise<void>;
  private warned = false;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly options: StreamConsumeOptions,
  ) {}

  /** The consumer arguments of the next subscription. */
  async consumeArguments(): Promise<Record<string, unknown>> {
    let resumeAfter = this.last;
    if (resumeAfter === undefined && this.options.store !== undefined) resumeAfter = await this.options.store.load(this.name);
    const offset: StreamOffset = resumeAfter !== undefined ? resumeAfter + 1 : (this.options.offset ?? 'next');
    return { [OFFSET_HEADER]: offsetArgument(offset) };
  }

  /** A delivery was settled (handled, dead-lettered or dropped): the reader has moved past it. */
  handled(message: ConsumeMessage): void {
    const offset = offsetOf(message);
    if (offset === undefined || (this.last !== undefined && offset <= this.last)) return;
    this.last = offset;
    if (this.options.store !== undefined && this.saving === undefined) this.saving = this.saveLoop();
  }

  /** Waits (up to `timeoutMs`) for the position to be saved, then stops saving (shutdown). */
  async close(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.saving !== undefined && Date.now() < deadline) {
      await Promise.race([this.saving, new Promise((resolve) => setTimeout(resolve, Math.max(1, deadline - Date.now())).unref())]);
    }
    this.closed = true;
    if (this.last !== this.saved)
      this.logger.warn(`${this.name}: stopped before saving its position ${String(this.last)}; a restart re-reads from ${String(this.saved)}`);
  }

  private async saveLoop(): Promise<void> {
    const store = this.options.store;
    try {
      while (store !== undefined && !this.closed && this.last !== undefined && this.last !== this.saved) {
        const offset = this.last;
        try {
          await store.save(this.name, offset);
          this.saved = offset;
          this.warned = false;
        } catch (error) {
          if (!this.warned) this.logger.warn(`${this.name}: could not save the stream position ${offset} (${errorText(error)}); retrying`);
          this.warned = true;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    } finally {
      this.saving = undefined;
    }
  }
}
