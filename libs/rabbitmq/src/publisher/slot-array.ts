/**
 * Items at increasing integer indexes, removed in any order: an array with a moving head. The
 * hot paths (the publisher's in-flight messages, the RPC client's calls) use it instead of a
 * long-lived `Set` or `Map` with one add and one delete per message: with that churn V8 keeps
 * each obsolete hash table linked to its successor until a full collection, and with it every
 * record deleted meanwhile (and what the record holds) — about 3 µs of GC per publish. Here a
 * removal clears a slot, cleared slots at the head are dropped, and nothing is retained.
 */
export class SlotArray<T> {
  private slots: Array<T | undefined> = [];
  /** The index of slots[0]. */
  private offset = 0;
  private head = 0;
  private count = 0;

  /** Items held. */
  get size(): number {
    return this.count;
  }

  /** The index after the last slot: where an item appended now goes. */
  get end(): number {
    return this.offset + this.slots.length;
  }

  get(index: number): T | undefined {
    const i = index - this.offset;
    return i >= this.head && i < this.slots.length ? this.slots[i] : undefined;
  }

  /** Puts an item at `index`; false (nothing stored) when the head has already passed that index. */
  set(index: number, item: T): boolean {
    const i = index - this.offset;
    if (i < this.head) return false;
    if (this.slots[i] === undefined) this.count++;
    // Indexes only grow in use, so this appends (leaving a hole for an index never used).
    this.slots[i] = item;
    return true;
  }

  /** Removes the item at `index`, if any. */
  clear(index: number): void {
    const i = index - this.offset;
    if (i < this.head || i >= this.slots.length || this.slots[i] === undefined) return;
    this.slots[i] = undefined;
    this.count--;
    this.compact();
  }

  /** The items in index order (a copy: the caller may remove while going through it). */
  values(): T[] {
    const items: T[] = [];
    for (let i = this.head; i < this.slots.length; i++) {
      const item = this.slots[i];
      if (item !== undefined) items.push(item);
    }
    return items;
  }

  /** Whether some item matches, in index order. */
  some(match: (item: T) => boolean): boolean {
    for (let i = this.head; i < this.slots.length; i++) {
      const item = this.slots[i];
      if (item !== undefined && match(item)) return true;
    }
    return false;
  }

  private compact(): void {
    const { slots } = this;
    let head = this.head;
    while (head < slots.length && slots[head] === undefined) head++;
    if (head === slots.length) {
      // Empty: start over, and let the array's storage go.
      this.offset += head;
      this.slots = [];
      this.head = 0;
    } else if (head > 1024 && head * 2 > slots.length) {
      this.slots = slots.slice(head);
      this.offset += head;
      this.head = 0;
    } else {
      this.head = head;
    }
  }
}
