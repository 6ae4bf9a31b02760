import { createHash } from 'node:crypto';

/**
 * A deterministic, UUID-shaped message id from the given parts (stable JSON,
 * SHA-256). Publish a business event with `messageId: messageIdFrom('order', orderId)`
 * and a re-sent event carries the same id, so dedup can drop it.
 */
export function messageIdFrom(...parts: unknown[]): string {
  const hex = createHash('sha256').update(stableStringify(parts)).digest('hex');
  // Shaped like a version-5 (name-based) UUID.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}
