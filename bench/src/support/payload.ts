import type { BenchPayload } from '../contender';

/** Target size of a serialized payload, in bytes (JSON, UTF-8). */
export const PAYLOAD_BYTES = 1024;

// JSON of a payload without its body, at the widest field values a trial uses.
const OVERHEAD = Buffer.byteLength(JSON.stringify({ id: 9_999_999, round: 99, sentAt: Date.now(), body: '' }));
const BODY = 'x'.repeat(PAYLOAD_BYTES - OVERHEAD);

/** A 1 KB JSON-serializable message (within a few bytes: `id` digits vary). */
export function makePayload(id: number, round = 0): BenchPayload {
  return { id, round, sentAt: Date.now(), body: BODY };
}

export function encodePayload(payload: BenchPayload): Buffer {
  return Buffer.from(JSON.stringify(payload));
}

/** Accepts what the libraries hand a handler: an object already parsed, a Buffer or a string. */
export function decodePayload(value: unknown): BenchPayload {
  if (Buffer.isBuffer(value)) return JSON.parse(value.toString('utf8')) as BenchPayload;
  if (typeof value === 'string') return JSON.parse(value) as BenchPayload;
  if (value !== null && typeof value === 'object' && typeof (value as BenchPayload).id === 'number') return value as BenchPayload;
  throw new Error(`unexpected message payload of type ${typeof value}`);
}
