import type { ConsumeMessage } from 'amqplib';

/** Turns message payloads into bodies and back. */
export interface Serializer {
  /** The `contentType` property set on published messages. */
  readonly contentType: string;
  serialize(value: unknown): Buffer;
  /** Throws when the body cannot be read; the message is then dead-lettered once. `message` is the delivery, when there is one. */
  deserialize(body: Buffer, contentType: string | undefined, message?: ConsumeMessage): unknown;
}

const EMPTY = Buffer.alloc(0);

/**
 * JSON bodies. `undefined` becomes an empty body and back; Buffers pass through
 * untouched on publish, and a body whose contentType is not JSON-like is handed
 * to the handler as the raw Buffer.
 */
export class JsonSerializer implements Serializer {
  readonly contentType = 'application/json';

  serialize(value: unknown): Buffer {
    if (value === undefined) return EMPTY;
    if (Buffer.isBuffer(value)) return value;
    return Buffer.from(JSON.stringify(value));
  }

  deserialize(body: Buffer, contentType: string | undefined): unknown {
    if (contentType !== undefined && !isJsonLike(contentType)) {
      return contentType.startsWith('text/') ? body.toString() : body;
    }
    if (body.length === 0) return undefined;
    return JSON.parse(body.toString());
  }
}

function isJsonLike(contentType: string): boolean {
  return contentType === 'application/json' || contentType.endsWith('+json') || contentType.startsWith('application/json');
}
