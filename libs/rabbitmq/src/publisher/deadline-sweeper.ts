/** Something that can time out; `done` once it settled some other way. */
export interface Expirable {
  done: boolean;
}

interface Bucket<T> {
  entries: Array<{ item: T; deadline: number }>;
  head: number;
}

/**
 * Times out many operations with one timer instead of one timer each. Entries
 * with the same timeout expire in the order they were added, so each timeout
 * value keeps a FIFO and a sweep only looks at heads: O(1) per entry. Expiry is
 * late by at most `resolutionMs`.
 */
export class DeadlineSweeper<T extends Expirable> {
  private readonly buckets = new Map<number, Bucket<T>>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly onExpire: (item: T, timeoutMs: number) => void,
    private readonly resolutionMs = 25,
  ) {}

  add(item: T, timeoutMs: number, now = Date.now()): void {
    let bucket = this.buckets.get(timeoutMs);
    if (!bucket) {
      bucket = { entries: [], head: 0 };
      this.buckets.set(timeoutMs, bucket);
    }
    bucket.entries.push({ item, deadline: now + timeoutMs });
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), this.resolutionMs);
      this.timer.unref();
    }
  }

  /** Entries not yet swept away (settled ones included until they reach a head). */
  get size(): number {
    let size = 0;
    for (const bucket of this.buckets.values()) size += bucket.entries.length - bucket.head;
    return size;
  }

  sweep(now = Date.now()): void {
    for (const [timeoutMs, bucket] of this.buckets) {
      const { entries } = bucket;
      let head = bucket.head;
      while (head < entries.length) {
        const entry = entries[head];
        if (!entry.item.done) {
          if (entry.deadline > now) break;
          this.onExpire(entry.item, timeoutMs);
        }
        head++;
      }
      if (head === entries.length) {
        this.buckets.delete(timeoutMs);
      } else if (head > 1024 && head * 2 > entries.length) {
        bucket.entries = entries.slice(head);
        bucket.head = 0;
      } else {
        bucket.head = head;
      }
    }
    if (this.buckets.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
