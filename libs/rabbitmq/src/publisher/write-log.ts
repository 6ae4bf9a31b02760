import { SlotArray } from './slot-array';

/** A record the log can hold: `logSlot` is set by the log (-1 when not in it). */
export interface Loggable {
  logSlot: number;
}

/**
 * The records written and not yet settled, in the order written: an insertion-ordered set for
 * the publish hot path, on a SlotArray (see there why not a `Set`). A record knows its slot.
 */
export class WriteLog<T extends Loggable> {
  private readonly slots = new SlotArray<T>();

  get size(): number {
    return this.slots.size;
  }

  has(item: T): boolean {
    return item.logSlot >= 0 && this.slots.get(item.logSlot) === item;
  }

  add(item: T): void {
    if (this.has(item)) return;
    item.logSlot = this.slots.end;
    this.slots.set(item.logSlot, item);
  }

  delete(item: T): boolean {
    if (!this.has(item)) return false;
    this.slots.clear(item.logSlot);
    item.logSlot = -1;
    return true;
  }

  /** The records in the order written (a copy: the caller may delete while going through it). */
  toArray(): T[] {
    return this.slots.values();
  }

  /** Whether some record matches, oldest first. */
  some(match: (item: T) => boolean): boolean {
    return this.slots.some(match);
  }
}
