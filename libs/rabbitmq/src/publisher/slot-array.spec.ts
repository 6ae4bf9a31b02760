import { SlotArray } from './slot-array';

describe('SlotArray', () => {
  it('holds items at their indexes and removes them in any order', () => {
    const slots = new SlotArray<string>();
    expect(slots.end).toBe(0);
    slots.set(0, 'a');
    slots.set(1, 'b');
    slots.set(2, 'c');
    expect(slots.size).toBe(3);
    slots.clear(1);
    slots.clear(1);
    expect(slots.get(1)).toBeUndefined();
    expect(slots.values()).toEqual(['a', 'c']);
    expect(slots.some((item) => item === 'c')).toBe(true);
    slots.clear(0);
    slots.clear(2);
    expect(slots.size).toBe(0);
    // Emptied: indexes go on from where they were.
    expect(slots.end).toBe(3);
  });

  it('refuses an index its head has passed, and leaves a hole for an index never used', () => {
    const slots = new SlotArray<string>();
    expect(slots.set(5, 'five')).toBe(true);
    expect(slots.get(5)).toBe('five');
    expect(slots.size).toBe(1);
    slots.clear(5);
    expect(slots.set(3, 'three')).toBe(false);
    expect(slots.size).toBe(0);
  });

  it('keeps only what is still held over a long stream, including one item that stays', () => {
    const slots = new SlotArray<number>();
    slots.set(slots.end, -1);
    const window: number[] = [];
    for (let n = 1; n <= 100_000; n++) {
      const index = slots.end;
      slots.set(index, n);
      window.push(index);
      if (window.length > 100) slots.clear(window.shift() as number);
    }
    expect(slots.size).toBe(101);
    expect(slots.values()[0]).toBe(-1);
    slots.clear(0);
    const internals = slots as unknown as { slots: unknown[] };
    // The stuck item kept the head at 0 until now; the next removal compacts.
    slots.clear(window.shift() as number);
    expect(internals.slots.length).toBeLessThan(2_300);
    expect(slots.size).toBe(99);
  });
});
