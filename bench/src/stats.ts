/**
 * Small, dependency-free statistics used by the benchmark. Every function
 * ignores NaN and non-finite values, and returns NaN for an empty input so a
 * missing measurement never turns into a plausible-looking zero.
 */

function finiteSorted(values: readonly number[]): number[] {
  return values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
}

/** The median; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  const sorted = finiteSorted(values);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const mid = Math.floor(n / 2);
  return n % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The p-th percentile (0..100) by linear interpolation between closest ranks
 * (the same definition as NumPy's default and Excel's PERCENTILE.INC).
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const sorted = finiteSorted(values);
  return percentileOfSorted(sorted, p);
}

/** `percentile` for input already sorted ascending and free of non-finite values (no copy). */
export function percentileOfSorted(sorted: readonly number[], p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (n === 1) return sorted[0];
  const rank = (p / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export function mean(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return Number.NaN;
  return finite.reduce((sum, v) => sum + v, 0) / finite.length;
}

/** Summary of a latency sample: the figures the report prints. */
export interface LatencySummary {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[]): LatencySummary {
  const sorted = finiteSorted(values);
  return {
    count: sorted.length,
    min: sorted.length ? sorted[0] : Number.NaN,
    p50: percentileOfSorted(sorted, 50),
    p90: percentileOfSorted(sorted, 90),
    p99: percentileOfSorted(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
    mean: mean(sorted),
  };
}

/**
 * Ratios of `subject[i] / reference[i]`, pairing values of the same round; a
 * pair with a missing or zero reference is skipped rather than producing
 * Infinity.
 */
export function pairedRatios(subject: readonly (number | undefined)[], reference: readonly (number | undefined)[]): number[] {
  const ratios: number[] = [];
  const n = Math.min(subject.length, reference.length);
  for (let i = 0; i < n; i++) {
    const s = subject[i];
    const r = reference[i];
    if (s === undefined || r === undefined) continue;
    if (!Number.isFinite(s) || !Number.isFinite(r) || r === 0) continue;
    ratios.push(s / r);
  }
  return ratios;
}
