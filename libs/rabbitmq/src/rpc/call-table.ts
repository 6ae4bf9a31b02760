import { SlotArray } from '../publisher/slot-array';

/** A call the table can hold, by its correlation id. */
export interface TableEntry {
  readonly id: string;
}

/**
 * The calls waiting for their reply, by correlation id. Ids the client made itself are
 * `<prefix>.<sequence>`: those calls sit in a SlotArray at their sequence number, so the reply
 * path parses a number instead of hashing a string, and no long-lived `Map` gets a set and a
 * delete per call (see SlotArray). Ids given by callers go to a `Map`.
 */
export class CallTable<T extends TableEntry> {
  private readonly slots = new SlotArray<T>();
  private readonly given = new Map<string, T>();
  private readonly idPrefix: string;

  constructor(prefix: string) {
    this.idPrefix = `${prefix}.`;
  }

  /** Calls in the table. */
  get size(): number {
    return this.slots.size + this.given.size;
  }

  /** Adds a call; `generated` when its id came from this client's sequence (a caller's id always goes to the map). */
  set(call: T, generated: boolean): void {
    const seq = generated ? this.sequenceOf(call.id) : undefined;
    // A number the table has already passed (ids not made in order) goes to the map too.
    if (seq === undefined || !this.slots.set(seq, call)) this.given.set(call.id, call);
  }

  get(id: string): T | undefined {
    const seq = this.sequenceOf(id);
    if (seq !== undefined) {
      const call = this.slots.get(seq);
      if (call !== undefined && call.id === id) return call;
    }
    return this.given.get(id);
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  delete(id: string): boolean {
    const seq = this.sequenceOf(id);
    if (seq !== undefined) {
      const call = this.slots.get(seq);
      if (call !== undefined && call.id === id) {
        this.slots.clear(seq);
        return true;
      }
    }
    return this.given.delete(id);
  }

  /** The ids of every call (a copy: the caller may delete while going through them). */
  ids(): string[] {
    return [...this.slots.values().map((call) => call.id), ...this.given.keys()];
  }

  /** The sequence number of an id this client made (`<prefix>.<n>`, n in its canonical decimal form), or undefined. */
  private sequenceOf(id: string): number | undefined {
    const start = this.idPrefix.length;
    const end = id.length;
    // Up to 15 digits: always a safe integer. A leading zero ('007') is not a form this client writes.
    if (end <= start || end - start > 15 || !id.startsWith(this.idPrefix)) return undefined;
    let seq = 0;
    for (let i = start; i < end; i++) {
      const digit = id.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9 || (digit === 0 && i === start)) return undefined;
      seq = seq * 10 + digit;
    }
    return seq;
  }
}
