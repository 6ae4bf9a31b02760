import { CallTable } from './call-table';

interface Call {
  id: string;
}

describe('CallTable', () => {
  it('finds calls by the ids the client made and by ids callers gave', () => {
    const table = new CallTable<Call>('abc');
    const mine = { id: 'abc.1' };
    const theirs = { id: 'order-7' };
    table.set(mine, true);
    table.set(theirs, false);
    expect(table.get('abc.1')).toBe(mine);
    expect(table.get('order-7')).toBe(theirs);
    expect(table.has('abc.2')).toBe(false);
    expect(table.size).toBe(2);
    expect(table.ids().sort()).toEqual(['abc.1', 'order-7']);
    expect(table.delete('abc.1')).toBe(true);
    expect(table.delete('abc.1')).toBe(false);
    expect(table.delete('order-7')).toBe(true);
    expect(table.size).toBe(0);
  });

  it('matches only the canonical form of its own ids', () => {
    const table = new CallTable<Call>('abc');
    table.set({ id: 'abc.7' }, true);
    for (const lookalike of ['abc.07', 'abc.7.0', 'abc.7 ', 'abc. 7', 'abc.7e0', 'abd.7', 'abc.', 'abc.-7', 'abc.0x7']) {
      expect(table.get(lookalike)).toBeUndefined();
      expect(table.delete(lookalike)).toBe(false);
    }
    expect(table.size).toBe(1);
  });

  it('keeps a caller id that looks like its own apart from its own calls', () => {
    const table = new CallTable<Call>('abc');
    const given = { id: 'abc.5' };
    table.set(given, false);
    expect(table.get('abc.5')).toBe(given);
    expect(table.delete('abc.5')).toBe(true);
    expect(table.size).toBe(0);
  });

  it('settles calls in any order and holds only those still waiting over a long stream', () => {
    const table = new CallTable<Call>('p');
    const waiting: Call[] = [];
    const stuck = { id: 'p.1' };
    table.set(stuck, true);
    for (let seq = 2; seq <= 50_000; seq++) {
      const call = { id: `p.${seq}` };
      table.set(call, true);
      waiting.push(call);
      // Replies come back out of order: settle a random one of the oldest few.
      if (waiting.length > 50) {
        const [gone] = waiting.splice(Math.floor(Math.random() * 10), 1);
        expect(table.delete(gone.id)).toBe(true);
      }
    }
    expect(table.size).toBe(waiting.length + 1);
    for (const call of waiting) expect(table.get(call.id)).toBe(call);
    expect(table.get('p.1')).toBe(stuck);
    table.delete('p.1');
    for (const call of waiting) table.delete(call.id);
    expect(table.size).toBe(0);
    expect(table.ids()).toEqual([]);
    // Emptied: what it holds is released, and new calls are found again.
    expect((table as unknown as { slots: { slots: unknown[] } }).slots.slots.length).toBe(0);
    const next = { id: 'p.50001' };
    table.set(next, true);
    expect(table.get('p.50001')).toBe(next);
  });

  it('takes a number it has already passed (ids not made in order) through the map', () => {
    const table = new CallTable<Call>('p');
    const later = { id: 'p.10' };
    table.set(later, true);
    table.delete('p.10');
    const earlier = { id: 'p.3' };
    table.set(earlier, true);
    expect(table.get('p.3')).toBe(earlier);
    expect(table.delete('p.3')).toBe(true);
    expect(table.size).toBe(0);
  });
});
