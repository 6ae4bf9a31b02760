import { dirname, join } from 'node:path';
import { encodePublishFrames, PublishFields } from './publish-frames';

// amqplib's own encoder, reached by file path (its package exports only the public API): the
// frames of a publish as amqplib writes them, to compare byte for byte.
const amqplibLib = join(dirname(require.resolve('amqplib')), 'lib');
const { publish: publishArgs } = require(join(amqplibLib, 'api_args.js')) as { publish(e: string, r: string, o?: object): PublishFields };
const { Connection } = require(join(amqplibLib, 'connection.js')) as { Connection: { prototype: { sendMessage: (...args: unknown[]) => boolean } } };
const defs = require(join(amqplibLib, 'defs.js')) as { BasicPublish: number; BasicProperties: number };

const FRAME_MAX = 131072;

function amqplibFrames(channel: number, exchange: string, routingKey: string, content: Buffer, options?: object): Buffer {
  const written: Buffer[] = [];
  const fake = Object.assign(Object.create(Connection.prototype) as object, {
    channels: { [channel]: { buffer: { write: (chunk: Buffer) => written.push(Buffer.from(chunk)) } } },
    frameMax: FRAME_MAX,
  });
  const fields = publishArgs(exchange, routingKey, options);
  Connection.prototype.sendMessage.call(fake, channel, defs.BasicPublish, fields, defs.BasicProperties, fields, content);
  return Buffer.concat(written);
}

function ourFrames(channel: number, exchange: string, routingKey: string, content: Buffer, options?: object): Buffer | undefined {
  return encodePublishFrames(channel, publishArgs(exchange, routingKey, options), content, FRAME_MAX);
}

/** A small deterministic generator, so a failure names a seed that reproduces it. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x80000000;
  };
}

const ALPHABET = ['a', 'Z', '0', '.', '-', ' ', 'é', 'ß', '€', '日', '😀'];

function text(next: () => number, max: number): string {
  let out = '';
  const length = Math.floor(next() * (max + 1));
  while (out.length < length) out += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return out;
}

describe('encodePublishFrames', () => {
  it('writes the same bytes as amqplib for a typical Warren publish', () => {
    const content = Buffer.from(JSON.stringify({ orderId: 42, items: ['a', 'b'] }));
    const options = { persistent: true, mandatory: true, contentType: 'application/json', timestamp: 1764900000123, messageId: 'AbCdEfGhIjKlMn-000000000001' };
    const ours = ourFrames(3, 'orders', 'order.created', content, options);
    expect(ours).toBeDefined();
    expect(ours!.equals(amqplibFrames(3, 'orders', 'order.created', content, options))).toBe(true);
  });

  it('writes the same bytes as amqplib for 3,000 random publishes (every property, headers, UTF-8, empty bodies)', () => {
    const next = random(20261205);
    const strings = ['contentType', 'contentEncoding', 'correlationId', 'replyTo', 'messageId', 'type', 'userId', 'appId', 'clusterId'];
    let compared = 0;
    for (let i = 0; i < 3000; i++) {
      const options: Record<string, unknown> = {};
      for (const name of strings) if (next() < 0.4) options[name] = text(next, next() < 0.1 ? 80 : 12);
      if (next() < 0.5) options.persistent = next() < 0.5;
      else if (next() < 0.3) options.deliveryMode = Math.floor(next() * 3);
      if (next() < 0.3) options.priority = Math.floor(next() * 256);
      if (next() < 0.3) options.expiration = next() < 0.5 ? Math.floor(next() * 100000) : String(Math.floor(next() * 1000));
      if (next() < 0.5) options.timestamp = Math.floor(next() * 2 ** 53);
      if (next() < 0.5) options.mandatory = next() < 0.5;
      if (next() < 0.5) {
        const headers: Record<string, unknown> = {};
        const count = Math.floor(next() * 6);
        for (let h = 0; h < count; h++) {
          const roll = next();
          headers[text(next, 10) || 'k'] =
            roll < 0.3
              ? text(next, 40)
              : roll < 0.45
                ? next() < 0.5
                : roll < 0.5
                  ? null
                  : roll < 0.55
                    ? undefined
                    : Math.floor((next() - 0.5) * 2 ** (1 + Math.floor(next() * 32)));
        }
        options.headers = headers;
      }
      if (next() < 0.2) options.CC = next() < 0.5 ? text(next, 10) : [text(next, 10), text(next, 10)];
      const content = next() < 0.1 ? Buffer.alloc(0) : Buffer.from(text(next, 3000));
      const channel = 1 + Math.floor(next() * 2047);
      const exchange = text(next, 30);
      const routingKey = text(next, 30);
      const ours = ourFrames(channel, exchange, routingKey, content, options);
      if (ours === undefined) continue; // CC as a list of strings is an array: amqplib's to encode
      compared++;
      const theirs = amqplibFrames(channel, exchange, routingKey, content, options);
      if (!ours.equals(theirs)) throw new Error(`publish ${i} differs: ${JSON.stringify({ channel, exchange, routingKey, options })}`);
    }
    expect(compared).toBeGreaterThan(2500);
  });

  it.each([
    ['a nested header table', { headers: { nested: { a: 1 } } }],
    ['an array header', { headers: { list: [1, 2] } }],
    ['a buffer header', { headers: { raw: Buffer.from('x') } }],
    ['a float header', { headers: { ratio: 0.5 } }],
    ['a header beyond 32 bits', { headers: { big: 2 ** 40 } }],
    ['a typed header', { headers: { at: { '!': 'timestamp', value: 1 } } }],
    ['a message id that is not a string', { messageId: 42 }],
    ['a message id over 255 bytes', { messageId: 'x'.repeat(256) }],
    ['a priority over 255', { priority: 256 }],
    ['a fractional priority', { priority: 1.5 }],
    ['a negative timestamp', { timestamp: -1 }],
    ['a fractional timestamp', { timestamp: 1.5 }],
    ['a header key over 255 bytes', { headers: { ['k'.repeat(256)]: 'v' } }],
  ])('leaves %s to amqplib', (_name, options) => {
    expect(ourFrames(1, 'x', 'y', Buffer.from('{}'), options)).toBeUndefined();
  });

  it('leaves an exchange name over 255 bytes, a ticket and content larger than one frame to amqplib', () => {
    expect(ourFrames(1, 'x'.repeat(256), 'y', Buffer.from('{}'))).toBeUndefined();
    expect(encodePublishFrames(1, { ...publishArgs('x', 'y'), ticket: 1 }, Buffer.from('{}'), FRAME_MAX)).toBeUndefined();
    expect(ourFrames(1, 'x', 'y', Buffer.alloc(FRAME_MAX - 8))).toBeDefined();
    expect(ourFrames(1, 'x', 'y', Buffer.alloc(FRAME_MAX - 7))).toBeUndefined();
  });
});
