import { randomUUID } from 'node:crypto';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type { DedupClaim, DedupStore } from '../options/dedup-store.interface';

/** Options of `MemoryDedupStore`. */
export interface MemoryDedupStoreOptions {
  /**
   * Keys kept at most. When full, the entries claimed or completed longest ago are
   * dropped first (a dropped done key can then be processed again).
   * @default 100000
   */
  maxEntries?: number;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

interface Entry {
  key: string;
  /** `undefined` once done. */
  token: string | undefined;
  expiresAt: number;
}

/** Entries examined for expiry at the oldest end on each call: bounded work, memory still reclaimed. */
const SWEEP_PER_CALL = 4;

/**
 * A `DedupStore` in process memory: fast, but each process has its own, and it is lost
 * on restart. Use it for a single consumer process or for tests; use `RedisDedupStore`
 * when several processes consume the same queue.
 *
 * Every call is O(1) (amortized). Expired entries count as absent; a few of the oldest
 * are removed on each call, and no timer runs, so the store never keeps a process alive.
 */
export class MemoryDedupStore implements DedupStore {
  private readonly entries = new Map<string, Entry>();
  /**
   * Entries oldest first (claimed or completed longest ago). Kept beside the Map because
   * V8 leaves deleted Map slots in place, so finding a Map's first key after many
   * deletions at its head is O(deletions). An entry here is stale once the Map holds
   * another entry (or none) for its key; stale ones are skipped and compacted away.
   */
  private order: Entry[] = [];
  private head = 0;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: MemoryDedupStoreOptions = {}) {
    const maxEntries = options.maxEntries ?? 100_000;
    if (!(Number.isInteger(maxEntries) && maxEntries >= 1)) {
      throw new InvalidOptionsError([`MemoryDedupStore: maxEntries must be an integer >= 1 (got ${maxEntries})`]);
    }
    this.maxEntries = maxEntries;
    this.now = options.now ?? Date.now;
  }

  /** Entries held: live ones (claimed or done) plus expired ones not yet swept. */
  get size(): number {
    return this.entries.size;
  }

  async claim(key: string, leaseMs: number): Promise<DedupClaim> {
    const now = this.now();
    this.sweep(now);
    const entry = this.live(key, now);
    if (entry) return entry.token === undefined ? { status: 'duplicate' } : { status: 'in-progress' };
    const token = randomUUID();
    this.insert({ key, token, expiresAt: now + leaseMs });
    return { status: 'claimed', token };
  }

  async complete(key: string, token: string, ttlMs: number): Promise<void> {
    const now = this.now();
    this.sweep(now);
    const entry = this.live(key, now);
    // A key nobody holds (our lease ended, nobody took over) is marked done too: the work did succeed.
    if (entry && entry.token !== token) return;
    // A new entry goes to the young end, so the order keeps following expiry for eviction and sweeping.
    this.insert({ key, token: undefined, expiresAt: now + ttlMs });
  }

  async release(key: string, token: string): Promise<void> {
    const now = this.now();
    this.sweep(now);
    const entry = this.live(key, now);
    if (entry && entry.token === token) this.entries.delete(key);
  }

  /** Drops every entry. */
  async close(): Promise<void> {
    this.entries.clear();
    this.order = [];
    this.head = 0;
  }

  /** The entry of `key` if it has not expired; an expired one is removed. */
  private live(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > now) return entry;
    this.entries.delete(key);
    return undefined;
  }

  private insert(entry: Entry): void {
    this.entries.delete(entry.key);
    while (this.entries.size >= this.maxEntries && this.head < this.order.length) {
      const oldest = this.order[this.head++];
      if (this.entries.get(oldest.key) === oldest) this.entries.delete(oldest.key);
    }
    this.entries.set(entry.key, entry);
    this.order.push(entry);
    this.compact();
  }

  /** Removes expired entries from the oldest end, examining at most SWEEP_PER_CALL. */
  private sweep(now: number): void {
    for (let examined = 0; examined < SWEEP_PER_CALL && this.head < this.order.length; examined++) {
      const oldest = this.order[this.head];
      const current = this.entries.get(oldest.key) === oldest;
      if (current && oldest.expiresAt > now) return;
      if (current) this.entries.delete(oldest.key);
      this.head++;
    }
  }

  /**
   * Keeps `order` proportional to the Map: drops the consumed head, and stale entries
   * once they outnumber live ones. Each rebuild is O(n) after more than n pushes: O(1) amortized.
   */
  private compact(): void {
    const pending = this.order.length - this.head;
    if (pending > 2 * this.entries.size + 64) {
      this.order = this.order.slice(this.head).filter((entry) => this.entries.get(entry.key) === entry);
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }
}
