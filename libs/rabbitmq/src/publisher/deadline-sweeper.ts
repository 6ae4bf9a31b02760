/** Something that can time out; `done` once it settled some other way. */
export interface Expirable {
  done: boolean;
  /** Set by the sweeper: when it expires (ms since the epoch). */
  deadline: number;
}

interface Bucket<T> {
  entries: T[];
  head: number;
}

/**
 * Times out many operations with one timer instead of one timer each. Entries
 * with the same timeout expire in the order they were added, so each timeout
 * value keeps a FIFO and only its head is ever examined: O(1) per entry.
 * `release()` drops settled entries from the head at once, so in the usual
 * case (settled in order) nothing is retained past its settlement. Expiry is
 * late by at most `resolutionMs`.
 */
export class DeadlineSweeper<T extends Expirable> {
  private readonly buckets = new Map<number, Bucket<T>>();
  /** Nearly every entry uses the same timeout: the last bucket used saves a map lookup per entry. */
  private lastTimeout = NaN;
  private lastBucket: Bucket<T> | undefined;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly onExpire: (item: T, timeoutMs: number) => void,
    private readonly resolutionMs = 25,
  ) {}

  add(item: T, timeoutMs: number, now = Date.now()): void {
    let bucket = this.bucketOf(timeoutMs);
    if (!bucket) {
      bucket = { entries: [], head: 0 };
      this.buckets.set(timeoutMs, bucket);
      this.lastTimeout = timeoutMs;
      this.lastBucket = bucket;
    }
    item.deadline = now + timeoutMs;
    bucket.entries.push(item);
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), this.resolutionMs);
      this.timer.unref();
    }
  }

  /** Call after an entry of this timeout settled: drops settled entries from the head of its FIFO. */
  release(timeoutMs: number): void {
    const bucket = this.bucketOf(timeoutMs);
    if (!bucket) return;
    const { entries } = bucket;
    let head = bucket.head;
    while (head < entries.length && entries[head].done) entries[head++] = undefined as unknown as T;
    this.advance(timeoutMs, bucket, head);
  }

  /** The first entry not yet settled that `match` accepts, oldest first within each timeout: O(entries), for rare lookups. */
  find(match: (item: T) => boolean): T | undefined {
    for (const bucket of this.buckets.values()) {
      for (let i = bucket.head; i < bucket.entries.length; i++) {
        const item = bucket.entries[i];
        if (!item.done && match(item)) return item;
      }
    }
    return undefined;
  }

  /** Entries not yet dropped (settled ones included until they reach a head). */
  get size(): number {
    let size = 0;
    for (const bucket of this.buckets.values()) size += bucket.entries.length - bucket.head;
    return size;
  }

  sweep(now = Date.now()): void {
    // Expired entries are settled after the buckets are advanced: settling one calls release(),
    // which moves the same bucket's head and would leave this loop reading cleared slots.
    const expired: Array<[T, number]> = [];
    for (const [timeoutMs, bucket] of this.buckets) {
      const { entries } = bucket;
      let head = bucket.head;
      while (head < entries.length) {
        const item = entries[head];
        if (!item.done) {
          if (item.deadline > now) break;
          expired.push([item, timeoutMs]);
        }
        entries[head++] = undefined as unknown as T;
      }
      this.advance(timeoutMs, bucket, head);
    }
    for (const [item, timeoutMs] of expired) if (!item.done) this.onExpire(item, timeoutMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Buckets currently held (one per distinct timeout with entries not yet dropped). */
  get bucketCount(): number {
    return this.buckets.size;
  }

  private bucketOf(timeoutMs: number): Bucket<T> | undefined {
    if (timeoutMs === this.lastTimeout) return this.lastBucket;
    const bucket = this.buckets.get(timeoutMs);
    if (bucket) {
      this.lastTimeout = timeoutMs;
      this.lastBucket = bucket;
    }
    return bucket;
  }

  private advance(timeoutMs: number, bucket: Bucket<T>, head: number): void {
    if (head === bucket.entries.length) {
      // Nothing left under this timeout: forget it, so a stream of distinct timeout values
      // holds no memory and costs the sweep nothing; with no bucket left, the timer stops.
      if (this.buckets.get(timeoutMs) === bucket) this.buckets.delete(timeoutMs);
      if (this.lastBucket === bucket) {
        this.lastTimeout = NaN;
        this.lastBucket = undefined;
      }
      if (this.buckets.size === 0) this.stop();
      return;
    }
    if (head > 1024 && head * 2 > bucket.entries.length) {
      bucket.entries = bucket.entries.slice(head);
      bucket.head = 0;
    } else {
      bucket.head = head;
    }
  }
}
