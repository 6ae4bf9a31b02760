/**
 * Checks per-key order of handled messages. Each message carries its key and its sequence
 * number within the key (0, 1, 2, ... in publish order). Handlings are recorded in the order
 * handlers ran; a repeat of an already handled message (a redelivery) is a duplicate, not a
 * reordering. Out of order: a message whose first handling comes after the first handling of a
 * later message of its key (counted as adjacent inversions per key, so a message that was never
 * published — a rejected publish — leaves a gap without counting as a reordering).
 */
export class OrderChecker {
  /** Per key: the sequence numbers handled, and the last one handled for the first time. */
  private readonly seen = new Map<string, Set<number>>();
  private readonly previous = new Map<string, number>();
  outOfOrder = 0;
  duplicates = 0;
  handled = 0;
  readonly examples: string[] = [];

  record(key: string, seq: number): void {
    let seen = this.seen.get(key);
    if (seen === undefined) {
      seen = new Set();
      this.seen.set(key, seen);
    }
    if (seen.has(seq)) {
      this.duplicates++;
      return;
    }
    seen.add(seq);
    this.handled++;
    const previous = this.previous.get(key);
    if (previous !== undefined && seq < previous) {
      this.outOfOrder++;
      if (this.examples.length < 5) this.examples.push(`${key}: #${seq} handled after #${previous}`);
    }
    this.previous.set(key, seq);
  }

  /** Distinct messages handled for `key`. */
  count(key: string): number {
    return this.seen.get(key)?.size ?? 0;
  }
}
