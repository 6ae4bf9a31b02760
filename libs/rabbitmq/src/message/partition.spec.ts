import { PARTITION_SLOTS, partitionHash, partitionOf, partitionSlotOf, slotsOfPartition } from './partition';

describe('partition routing', () => {
  it('hashes with 32-bit FNV-1a over UTF-8, so other languages can publish to the same partitions', () => {
    expect(partitionHash('')).toBe(0x811c9dc5);
    expect(partitionHash('a')).toBe(0xe40c292c);
    expect(partitionHash('foobar')).toBe(0xbf9cf968);
    // Multi-byte characters hash as their UTF-8 bytes, not UTF-16 code units.
    expect(partitionHash('é')).toBe(0x1e9de8c1);
  });

  it('puts a key in the partition whose slots include its slot', () => {
    for (const count of [1, 3, 8, 10, 64]) {
      for (let i = 0; i < 200; i++) {
        const key = `order-${i}`;
        expect(slotsOfPartition(partitionOf(key, count), count)).toContain(partitionSlotOf(key));
      }
    }
  });

  it('binds every slot to exactly one partition, for any count', () => {
    for (let count = 1; count <= PARTITION_SLOTS; count++) {
      const slots = Array.from({ length: count }, (_, i) => slotsOfPartition(i, count)).flat();
      expect(slots.sort((a, b) => a - b)).toEqual(Array.from({ length: PARTITION_SLOTS }, (_, i) => i));
    }
  });

  it('spreads 10,000 keys over 8 partitions within 10% of even', () => {
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 10_000; i++) counts[partitionOf(`order-${i}`, 8)]++;
    for (const n of counts) expect(Math.abs(n - 1250)).toBeLessThan(125);
  });
});
