import { mean, median, pairedRatios, percentile, percentileOfSorted, summarize } from './stats';

describe('median', () => {
  it('takes the middle value of an odd count, whatever the order', () => {
    expect(median([5, 1, 3])).toBe(3);
  });

  it('averages the two middle values of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('is NaN for an empty sample rather than 0', () => {
    expect(median([])).toBeNaN();
  });

  it('ignores NaN and infinite values', () => {
    expect(median([Number.NaN, 2, Number.POSITIVE_INFINITY, 4])).toBe(3);
  });

  it('does not reorder its input', () => {
    const input = [3, 1, 2];
    median(input);
    expect(input).toEqual([3, 1, 2]);
  });
});

describe('percentile', () => {
  const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it('returns the extremes at 0 and 100', () => {
    expect(percentile(oneToHundred, 0)).toBe(1);
    expect(percentile(oneToHundred, 100)).toBe(100);
  });

  it('interpolates linearly between closest ranks', () => {
    // rank = 0.5 * 99 = 49.5 -> halfway between 50 and 51
    expect(percentile(oneToHundred, 50)).toBe(50.5);
    // rank = 0.99 * 99 = 98.01 -> 99 + 0.01
    expect(percentile(oneToHundred, 99)).toBeCloseTo(99.01, 10);
    expect(percentile([10, 20], 25)).toBe(12.5);
  });

  it('agrees with the median at p50', () => {
    const sample = [7, 3, 9, 1, 4, 8];
    expect(percentile(sample, 50)).toBe(median(sample));
  });

  it('returns the only value of a single-element sample', () => {
    expect(percentile([42], 99)).toBe(42);
  });

  it('is NaN for an empty sample', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(percentileOfSorted([], 50)).toBeNaN();
  });

  it('rejects a p outside 0..100', () => {
    expect(() => percentile([1], -1)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe('mean', () => {
  it('averages finite values', () => {
    expect(mean([1, 2, 3, Number.NaN])).toBe(2);
    expect(mean([])).toBeNaN();
  });
});

describe('summarize', () => {
  it('reports count, extremes and percentiles of an unsorted sample', () => {
    const s = summarize([3, 1, 2, 5, 4]);
    expect(s).toEqual({ count: 5, min: 1, p50: 3, p90: 4.6, p99: expect.any(Number), max: 5, mean: 3 });
    expect(s.p99).toBeCloseTo(4.96, 10);
  });

  it('is all NaN (count 0) for an empty sample', () => {
    const s = summarize([]);
    expect(s.count).toBe(0);
    expect(s.p50).toBeNaN();
    expect(s.min).toBeNaN();
  });
});

describe('pairedRatios', () => {
  it('divides values of the same round', () => {
    expect(pairedRatios([10, 30], [20, 10])).toEqual([0.5, 3]);
  });

  it('skips rounds where either side is missing, not finite or the reference is zero', () => {
    expect(pairedRatios([1, 2, undefined, 4, 5], [2, undefined, 1, 0, Number.NaN])).toEqual([0.5]);
  });

  it('pairs only up to the shorter series', () => {
    expect(pairedRatios([2, 4, 6], [1])).toEqual([2]);
  });
});
