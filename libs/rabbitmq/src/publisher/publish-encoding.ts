import type { Options } from 'amqplib';

/** Why a publish cannot be encoded: the field, what was found there, and the rule it breaks. */
export interface EncodingProblem {
  field: string;
  valueType: string;
  problem: string;
}

/**
 * The properties frame must fit amqplib's 64 KiB scratch buffer and the broker's
 * frame size (128 KiB by default, never below 8 KiB on RabbitMQ 4); a frame over the
 * negotiated size closes the whole connection, so headers are held well under both.
 */
export const MAX_HEADERS_BYTES = 60 * 1024;

const SHORT_STRING_PROPERTIES = ['contentType', 'contentEncoding', 'correlationId', 'replyTo', 'messageId', 'type', 'userId', 'appId'] as const;

const ROUTING_KEY_LISTS = ['CC', 'BCC'] as const;

const TYPED_VALUE_KINDS = new Set([
  'string',
  'boolean',
  'double',
  'float64',
  'float',
  'byte',
  'int8',
  'unsignedbyte',
  'uint8',
  'short',
  'int16',
  'unsignedshort',
  'uint16',
  'int',
  'int32',
  'unsignedint',
  'uint32',
  'long',
  'int64',
  'timestamp',
  'decimal',
]);

/**
 * Checks, before anything is written, that amqplib can encode this publish and the
 * broker will not refuse its shape. amqplib registers a publish's confirm callback
 * before it encodes, so a message it fails to encode would shift every later confirm
 * on the channel by one: this check is what keeps confirms matched to their messages.
 * Cheap for the usual message (a few properties, a small header table).
 */
export function findEncodingProblem(exchange: unknown, routingKey: unknown, content: unknown, options: Options.Publish): EncodingProblem | undefined {
  const names = checkShortString('exchange', exchange) ?? checkShortString('routingKey', routingKey);
  if (names) return names;
  if (!Buffer.isBuffer(content)) {
    return { field: 'body', valueType: describe(content), problem: 'the serializer must return a Buffer' };
  }
  for (const key of SHORT_STRING_PROPERTIES) {
    const value = options[key];
    if (value !== undefined && value !== null) {
      const problem = checkShortString(key, value);
      if (problem) return problem;
    }
  }
  const { expiration, priority, timestamp, deliveryMode } = options;
  const headers: unknown = options.headers;
  if (expiration !== undefined && expiration !== null) {
    const text = typeof expiration === 'number' && Number.isSafeInteger(expiration) && expiration >= 0 ? String(expiration) : expiration;
    if (typeof text !== 'string' || !/^\d{1,10}$/.test(text) || Number(text) > 0xffffffff) {
      return {
        field: 'expiration',
        valueType: describe(expiration),
        problem: 'it must be a whole number of milliseconds from 0 to 4294967295 (as a string or number)',
      };
    }
  }
  if (priority !== undefined && priority !== null && !(Number.isInteger(priority) && priority >= 0 && priority <= 255)) {
    return { field: 'priority', valueType: describe(priority), problem: 'it must be a whole number from 0 to 255' };
  }
  if (timestamp !== undefined && timestamp !== null && !(Number.isSafeInteger(timestamp) && timestamp >= 0)) {
    return { field: 'timestamp', valueType: describe(timestamp), problem: 'it must be a whole, non-negative number (seconds or ms since the epoch)' };
  }
  if (deliveryMode !== undefined && deliveryMode !== null && typeof deliveryMode !== 'boolean' && !(deliveryMode === 1 || deliveryMode === 2)) {
    return { field: 'deliveryMode', valueType: describe(deliveryMode), problem: 'it must be 1 (transient) or 2 (persistent)' };
  }
  for (const key of ROUTING_KEY_LISTS) {
    const value = options[key];
    if (value === undefined) continue;
    for (const key2 of Array.isArray(value) ? value : [value]) {
      if (typeof key2 !== 'string') return { field: key, valueType: describe(key2), problem: 'routing keys must be strings' };
    }
  }
  if (headers !== undefined && headers !== null) {
    if (typeof headers !== 'object' || Array.isArray(headers) || Buffer.isBuffer(headers)) {
      return { field: 'headers', valueType: describe(headers), problem: 'headers must be a plain object' };
    }
    const sizeOrProblem = tableSize(headers as Record<string, unknown>, 'headers', 0);
    if (typeof sizeOrProblem !== 'number') return sizeOrProblem;
    if (sizeOrProblem > MAX_HEADERS_BYTES) {
      return {
        field: 'headers',
        valueType: `a table of ${sizeOrProblem} bytes`,
        problem: `headers must encode to at most ${MAX_HEADERS_BYTES} bytes (larger frames close the connection); put large data in the body`,
      };
    }
  }
  return undefined;
}

function checkShortString(field: string, value: unknown): EncodingProblem | undefined {
  if (typeof value !== 'string') return { field, valueType: describe(value), problem: 'it must be a string' };
  // Only long strings can exceed 255 bytes; skip the byte count for the usual short ones.
  if (value.length > 85 && Buffer.byteLength(value) > 255) {
    return { field, valueType: `a string of ${Buffer.byteLength(value)} bytes`, problem: 'AMQP short strings hold at most 255 bytes' };
  }
  return undefined;
}

const MAX_DEPTH = 32;

/** Encoded size of a field table (as amqplib writes it), or why it cannot be encoded. */
function tableSize(table: Record<string, unknown>, path: string, depth: number): number | EncodingProblem {
  if (depth > MAX_DEPTH) return { field: path, valueType: 'a table nested too deep', problem: `tables may nest at most ${MAX_DEPTH} levels (a cycle?)` };
  let size = 4;
  for (const key in table) {
    const value = table[key];
    if (value === undefined) continue;
    const keyBytes = Buffer.byteLength(key);
    if (keyBytes > 255) {
      return { field: `${path}[${key.slice(0, 40)}...]`, valueType: `a name of ${keyBytes} bytes`, problem: 'header names hold at most 255 bytes' };
    }
    const valueSize = valueSizeOf(value, `${path}.${key}`, depth);
    if (typeof valueSize !== 'number') return valueSize;
    size += 1 + keyBytes + valueSize;
  }
  return size;
}

function valueSizeOf(value: unknown, path: string, depth: number): number | EncodingProblem {
  switch (typeof value) {
    case 'string':
      return 5 + Buffer.byteLength(value);
    case 'boolean':
      return 2;
    case 'number':
      if (!Number.isFinite(value)) return { field: path, valueType: `number ${String(value)}`, problem: 'AMQP has no encoding for NaN or Infinity' };
      return 9;
    case 'object': {
      if (value === null) return 1;
      if (Buffer.isBuffer(value)) return 5 + value.length;
      if (value instanceof Date) {
        return { field: path, valueType: 'a Date', problem: "send date.toISOString(), or { '!': 'timestamp', value: seconds }" };
      }
      if (Array.isArray(value)) {
        if (depth >= MAX_DEPTH)
          return { field: path, valueType: 'an array nested too deep', problem: `arrays may nest at most ${MAX_DEPTH} levels (a cycle?)` };
        let size = 5;
        for (let i = 0; i < value.length; i++) {
          const item = valueSizeOf(value[i], `${path}[${i}]`, depth + 1);
          if (typeof item !== 'number') return item;
          size += item;
        }
        return size;
      }
      if (Object.prototype.hasOwnProperty.call(value, '!')) return typedValueSize(value as { '!': unknown; value: unknown }, path);
      const inner = tableSize(value as Record<string, unknown>, path, depth + 1);
      return typeof inner === 'number' ? 1 + inner : inner;
    }
    default:
      return { field: path, valueType: typeof value, problem: 'header values must be strings, numbers, booleans, null, Buffers, arrays or plain objects' };
  }
}

/** amqplib's `{ '!': type, value }` form for an explicit AMQP type. */
function typedValueSize(typed: { '!': unknown; value: unknown }, path: string): number | EncodingProblem {
  const kind = typed['!'];
  if (typeof kind !== 'string' || !TYPED_VALUE_KINDS.has(kind)) {
    return { field: path, valueType: `a typed value of type ${describe(kind)}`, problem: `the '!' type must be one of ${[...TYPED_VALUE_KINDS].join(', ')}` };
  }
  const { value } = typed;
  if (kind === 'string') return typeof value === 'string' ? 5 + Buffer.byteLength(value) : wrongTyped(path, kind, value);
  if (kind === 'boolean') return typeof value === 'boolean' ? 2 : wrongTyped(path, kind, value);
  if (kind === 'decimal') {
    const d = value as { places?: unknown; digits?: unknown } | null;
    const ok = d !== null && typeof d === 'object' && Number.isInteger(d.places) && Number.isInteger(d.digits);
    return ok ? 6 : wrongTyped(path, kind, value);
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) return wrongTyped(path, kind, value);
  if (kind === 'double' || kind === 'float64' || kind === 'float') return 9;
  const [min, max] = INTEGER_RANGES[kind] ?? [0, Number.MAX_SAFE_INTEGER];
  return Number.isInteger(value) && value >= min && value <= max ? 9 : wrongTyped(path, kind, value);
}

const INTEGER_RANGES: Record<string, [number, number]> = {
  byte: [-128, 127],
  int8: [-128, 127],
  unsignedbyte: [0, 255],
  uint8: [0, 255],
  short: [-32768, 32767],
  int16: [-32768, 32767],
  unsignedshort: [0, 65535],
  uint16: [0, 65535],
  int: [-2147483648, 2147483647],
  int32: [-2147483648, 2147483647],
  unsignedint: [0, 4294967295],
  uint32: [0, 4294967295],
  long: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  timestamp: [0, Number.MAX_SAFE_INTEGER],
};

function wrongTyped(path: string, kind: string, value: unknown): EncodingProblem {
  return { field: path, valueType: describe(value), problem: `it is declared as '${kind}' and cannot be encoded as one` };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? `the number ${value}` : `number ${String(value)}`;
  if (typeof value === 'string') return `a string of ${Buffer.byteLength(value)} bytes`;
  if (Buffer.isBuffer(value)) return 'a Buffer';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a Date';
  return typeof value;
}
