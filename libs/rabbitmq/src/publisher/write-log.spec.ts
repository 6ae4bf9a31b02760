import { WriteLog } from './write-log';

interface Item {
  id: number;
  logSlot: number;
}

const item = (id: number): Item => ({ id, logSlot: -1 });

describe('WriteLog', () => {
  it('keeps records in the order written, with removal from anywhere', () => {
    const log = new WriteLog<Item>();
    const [a, b, c] = [item(1), item(2), item(3)];
    log.add(a);
    log.add(b);
    log.add(c);
    expect(log.size).toBe(3);
    expect(log.delete(b)).toBe(true);
    expect(log.delete(b)).toBe(false);
    expect(log.has(b)).toBe(false);
    expect(log.toArray().map((i) => i.id)).toEqual([1, 3]);
    expect(log.some((i) => i.id === 3)).toBe(true);
    expect(log.some((i) => i.id === 2)).toBe(false);
  });

  it('adds a record once, and again (at the end) after it was removed', () => {
    const log = new WriteLog<Item>();
    const [a, b] = [item(1), item(2)];
    log.add(a);
    log.add(a);
    log.add(b);
    expect(log.size).toBe(2);
    log.delete(a);
    log.add(a);
    expect(log.toArray().map((i) => i.id)).toEqual([2, 1]);
    expect(log.has(a)).toBe(true);
  });

  it('drops removed records from its head, so a long stream keeps only what is in flight', () => {
    const log = new WriteLog<Item>();
    const window: Item[] = [];
    for (let n = 0; n < 100_000; n++) {
      const next = item(n);
      log.add(next);
      window.push(next);
      if (window.length > 100) log.delete(window.shift() as Item);
    }
    expect(log.size).toBe(100);
    expect(log.toArray().map((i) => i.id)).toEqual(window.map((i) => i.id));
    // What it holds is bounded by the window (plus the slack before a compaction), not by the stream.
    expect((log as unknown as { slots: { slots: unknown[] } }).slots.slots.length).toBeLessThan(2_300);
    for (const i of window) expect(log.has(i)).toBe(true);
  });

  it('holds a record that stays in flight while later ones come and go, and still finds every record', () => {
    const log = new WriteLog<Item>();
    const stuck = item(-1);
    log.add(stuck);
    const window: Item[] = [];
    for (let n = 0; n < 10_000; n++) {
      const next = item(n);
      log.add(next);
      window.push(next);
      if (window.length > 10) log.delete(window.shift() as Item);
    }
    expect(log.toArray().map((i) => i.id)).toEqual([-1, ...window.map((i) => i.id)]);
    expect(log.delete(stuck)).toBe(true);
    expect(log.toArray().map((i) => i.id)).toEqual(window.map((i) => i.id));
    for (const i of window) log.delete(i);
    expect(log.size).toBe(0);
    expect(log.toArray()).toEqual([]);
  });

  it('does not mistake a record of another log for one of its own', () => {
    const first = new WriteLog<Item>();
    const second = new WriteLog<Item>();
    const a = item(1);
    first.add(a);
    expect(second.has(a)).toBe(false);
    expect(second.delete(a)).toBe(false);
    expect(first.has(a)).toBe(true);
  });
});
