import { dirname, join } from 'node:path';
import type { ChannelModel } from 'amqplib';
import { encodePublishesInOneBuffer } from './amqplib-internals';
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

/** A small deterministic generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
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
    const distinct = new Set<string>();
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
      const seen = JSON.stringify({ channel, exchange, routingKey, options });
      // CC becomes a header holding an array: amqplib's to encode; everything else here is ours.
      if ((ours === undefined) !== 'CC' in options) throw new Error(`publish ${i} ${ours === undefined ? 'declined' : 'taken'}: ${seen}`);
      if (ours === undefined) continue;
      compared++;
      distinct.add(seen);
      const theirs = amqplibFrames(channel, exchange, routingKey, content, options);
      if (!ours.equals(theirs)) throw new Error(`publish ${i} differs: ${seen}`);
    }
    expect(compared).toBeGreaterThan(2000);
    expect(distinct.size).toBe(compared);
  });

  it.each([
    [
      'integers at the edges of a byte, a short and an int',
      { headers: { a: 127, b: 128, c: -128, d: -129, e: 32767, f: 32768, g: -32768, h: -32769, i: 2 ** 31 - 1, j: -(2 ** 31), k: -0 } },
    ],
    ['a timestamp of 2^53 - 1 and of 2^32', { timestamp: 2 ** 53 - 1, messageId: 'x'.repeat(255) }],
    ['a timestamp of 2^32 - 1', { timestamp: 2 ** 32 - 1, priority: -0 }],
    ['inherited header keys', { headers: Object.assign(Object.create({ inherited: 'yes', shadowed: 1 }) as object, { own: true, shadowed: 2 }) }],
    [
      'every property at once',
      {
        contentType: 'a/b',
        contentEncoding: 'gzip',
        headers: { h: 'v', n: null, u: undefined },
        deliveryMode: 2,
        priority: 9,
        correlationId: 'c',
        replyTo: 'r',
        expiration: 5,
        messageId: 'm',
        timestamp: 1,
        type: 't',
        userId: 'u',
        appId: 'a',
        clusterId: 'k',
        mandatory: true,
      },
    ],
  ])('writes the same bytes as amqplib for %s', (_name, options) => {
    const content = Buffer.from('{}');
    const ours = ourFrames(7, 'x', 'y', content, options);
    expect(ours).toBeDefined();
    expect(ours!.equals(amqplibFrames(7, 'x', 'y', content, options))).toBe(true);
  });

  it('reads each header once, so a getter that changes its answer cannot make the sizes disagree', () => {
    let reads = 0;
    const headers = {};
    Object.defineProperty(headers, 'shifty', { enumerable: true, get: () => (reads++ === 0 ? 'x'.repeat(40) : 'short') });
    const frames = ourFrames(1, 'x', 'y', Buffer.from('{}'), { headers });
    expect(reads).toBe(1);
    // The 40-character value, as read once, is what was sized and written: the frames of a plain
    // header holding it. (amqplib reads a value twice, and would send 'short'.)
    expect(frames!.equals(amqplibFrames(1, 'x', 'y', Buffer.from('{}'), { headers: { shifty: 'x'.repeat(40) } }))).toBe(true);
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

  it('leaves a null or over-long exchange or routing key, a ticket and content larger than one frame to amqplib', () => {
    expect(ourFrames(1, 'x'.repeat(256), 'y', Buffer.from('{}'))).toBeUndefined();
    expect(encodePublishFrames(1, { ...publishArgs('x', 'y'), exchange: null }, Buffer.from('{}'), FRAME_MAX)).toBeUndefined();
    expect(encodePublishFrames(1, { ...publishArgs('x', 'y'), routingKey: null }, Buffer.from('{}'), FRAME_MAX)).toBeUndefined();
    expect(encodePublishFrames(1, { ...publishArgs('x', 'y'), exchange: undefined }, Buffer.from('{}'), FRAME_MAX)).toBeDefined();
    expect(encodePublishFrames(1, { ...publishArgs('x', 'y'), ticket: 1 }, Buffer.from('{}'), FRAME_MAX)).toBeUndefined();
    expect(ourFrames(1, 'x', 'y', Buffer.alloc(FRAME_MAX - 8))).toBeDefined();
    expect(ourFrames(1, 'x', 'y', Buffer.alloc(FRAME_MAX - 7))).toBeUndefined();
  });
});

describe('encodePublishesInOneBuffer', () => {
  /** An amqplib Connection (its real methods) whose channel 5 queue records the chunks written and answers `room`. */
  function fakeConnection(room: () => boolean) {
    const chunks: Buffer[] = [];
    const channels: unknown[] = [];
    channels[5] = { buffer: { write: (chunk: Buffer) => (chunks.push(Buffer.from(chunk)), room()) } };
    const inner = Object.assign(Object.create(Connection.prototype) as { sendMessage: (...args: unknown[]) => boolean }, { channels, frameMax: FRAME_MAX });
    return { model: { connection: inner } as unknown as ChannelModel, inner, chunks };
  }

  function send(inner: { sendMessage: (...args: unknown[]) => boolean }, content: Buffer, options?: object): boolean {
    const fields = publishArgs('x', 'y', options);
    return inner.sendMessage(5, defs.BasicPublish, fields, defs.BasicProperties, fields, content);
  }

  it.each([
    ['a small message (one chunk)', 100, undefined],
    ['a message just under 2048 bytes', 1900, undefined],
    ['a message over 2048 bytes (method and header, then body)', 2100, undefined],
    ['a 120 KB message', 120 * 1024, undefined],
    ['large headers (method, header and body apart)', 100, { headers: { big: 'h'.repeat(3000) } }],
    ['large headers and no body', 0, { headers: { big: 'h'.repeat(3000) } }],
  ])('writes %s to the channel queue in the chunks amqplib writes, and returns what amqplib returns', (_name, size, options) => {
    const content = Buffer.alloc(size, 0x61);
    for (const full of [false, true]) {
      const ours = fakeConnection(() => !full);
      expect(encodePublishesInOneBuffer(ours.model)).toBe(true);
      const theirs = fakeConnection(() => !full);
      const ourResult = send(ours.inner, content, options);
      const theirResult = send(theirs.inner, content, options);
      expect(ourResult).toBe(theirResult);
      expect(ours.chunks.map((c) => c.length)).toEqual(theirs.chunks.map((c) => c.length));
      expect(Buffer.concat(ours.chunks).equals(Buffer.concat(theirs.chunks))).toBe(true);
    }
  });

  it('leaves a connection alone whose sendMessage is no longer amqplib’s own (closing), and wraps another once', () => {
    const closing = fakeConnection(() => true);
    const thrower = (): never => {
      throw new Error('Connection closing');
    };
    closing.inner.sendMessage = thrower;
    expect(encodePublishesInOneBuffer(closing.model)).toBe(false);
    expect(closing.inner.sendMessage).toBe(thrower);

    const open = fakeConnection(() => true);
    expect(encodePublishesInOneBuffer(open.model)).toBe(true);
    const wrapped = open.inner.sendMessage;
    expect(encodePublishesInOneBuffer(open.model)).toBe(true);
    expect(open.inner.sendMessage).toBe(wrapped);
    expect(encodePublishesInOneBuffer({} as ChannelModel)).toBe(false);
  });
});
