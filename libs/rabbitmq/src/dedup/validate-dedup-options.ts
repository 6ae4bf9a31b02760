import type { DedupOptions } from '../options/dedup-store.interface';

/**
 * Checks dedup options and returns every problem as a human-readable line (empty when
 * they are fine), each prefixed with `path` (e.g. the handler name) and naming the
 * field as `dedup.<field>`. Fields left out are not checked.
 */
export function validateDedupOptions(options: DedupOptions | undefined, path: string): string[] {
  const problems: string[] = [];
  const report = (message: string): void => {
    problems.push(`${path}: dedup${message}`);
  };
  if (options === undefined) return problems;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    report(` must be an object (got ${describe(options)})`);
    return problems;
  }
  const { key, ttl, lease, store } = options;
  if (key !== undefined && typeof key !== 'function') {
    report(`.key must be a function (message) => string | undefined (got ${describe(key)})`);
  }
  if (ttl !== undefined && !isPositiveMs(ttl)) {
    report(`.ttl must be a whole number of ms > 0 (got ${describe(ttl)})`);
  }
  if (lease !== undefined && !isPositiveMs(lease)) {
    report(`.lease must be a whole number of ms > 0 (got ${describe(lease)})`);
  }
  if (store !== undefined) {
    if (typeof store !== 'object' || store === null) {
      report(`.store must be a DedupStore such as new MemoryDedupStore() (got ${describe(store)})`);
    } else {
      const missing = (['claim', 'complete', 'release'] as const).filter((m) => typeof store[m] !== 'function');
      if (missing.length > 0) {
        report(`.store is not a DedupStore: it has no ${missing.map((m) => `${m}()`).join(', ')} method`);
      }
      if (store.close !== undefined && typeof store.close !== 'function') {
        report(`.store.close must be a function when present (got ${describe((store as { close?: unknown }).close)})`);
      }
    }
  }
  return problems;
}

function isPositiveMs(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
