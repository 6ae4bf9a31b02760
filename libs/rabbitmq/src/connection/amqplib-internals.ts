import type { Duplex } from 'node:stream';
import type { ChannelModel } from 'amqplib';
import { encodePublishFrames, PublishFields } from './publish-frames';

/*
 * The one place that reaches into amqplib internals. `ChannelModel.connection` is amqplib's
 * Connection: its `stream` is the TCP or TLS socket that every frame is written to (through the
 * channels' multiplexer, or directly for channel 0 and heartbeats), and its `sendMessage` encodes
 * every message a channel sends and writes it to that channel's buffer. Whatever a future amqplib
 * moves, the functions here find it missing and change nothing: Warren then does without the saving.
 */

/** What Warren uses of amqplib's Connection; every member checked before use. */
interface AmqplibConnection {
  stream?: unknown;
  channels?: unknown;
  frameMax?: unknown;
  sentSinceLastCheck?: boolean;
  sendMessage?: unknown;
}

type SendMessage = (channel: number, method: unknown, fields: unknown, properties: unknown, props: unknown, content: unknown) => boolean;

function amqplibConnectionOf(connection: ChannelModel): AmqplibConnection | undefined {
  const inner = (connection as unknown as { connection?: unknown }).connection;
  return typeof inner === 'object' && inner !== null ? inner : undefined;
}

/** The connection's socket, undefined if it cannot be reached. */
export function socketOf(connection: ChannelModel): Duplex | undefined {
  const stream = amqplibConnectionOf(connection)?.stream;
  return isWritableSocket(stream) ? stream : undefined;
}

/**
 * Makes the socket send the frames written in one turn of the event loop with one system call
 * instead of one each. amqplib writes every frame (a publish, an ack, a reply) to the socket on
 * its own, and with TCP_NODELAY each write is a `write(2)` and a TCP segment: at 100 publishes
 * in flight that is a quarter of the client's CPU. Corked on the first write of a turn and
 * uncorked on the next tick, the socket hands the turn's frames to `writev(2)` together.
 *
 * Nothing is reordered or held past the current turn: the flush runs in the same pass of the
 * tick queue as the writes, before the next I/O callback or timer. Once a turn has written more
 * than the socket's high-water mark (16 KiB), `write()` returns false as it would for a full
 * socket, amqplib's multiplexer waits for `drain`, and `drain` follows the flush within the same
 * pass: a busy turn leaves in a few writes of about 16 KiB instead of one per frame. One thing
 * the cork changes: a write followed by `destroy()` in the same turn is discarded with the
 * buffer (`end()` flushes first). amqplib destroys its socket only during the handshake, before
 * this applies, and Warren only to abandon a connection whose broker stopped answering.
 * Returns false, changing nothing, when the socket cannot be reached.
 */
export function coalesceWrites(connection: ChannelModel): boolean {
  const socket = socketOf(connection);
  if (!socket || COALESCED.has(socket)) return socket !== undefined;
  const write = socket.write.bind(socket);
  let corked = false;
  const flush = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = ((...args: Parameters<Duplex['write']>): boolean => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(flush);
    }
    return write(...args);
  }) as Duplex['write'];
  COALESCED.add(socket);
  return true;
}

const COALESCED = new WeakSet<Duplex>();

/** amqplib's ids of basic.publish (class 60, method 40) and of the basic class's properties. */
const BASIC_PUBLISH = (60 << 16) | 40;
const BASIC_PROPERTIES = 60;
/** amqplib writes a message of fewer bytes than this to the channel's queue as one chunk. */
const SINGLE_CHUNK_THRESHOLD = 2048;

interface FrameQueue {
  write(chunk: Buffer): boolean;
}

/**
 * Makes the connection encode each publish into one buffer (`encodePublishFrames`) instead of
 * amqplib's four, for about a fifth of a publish's client CPU. Every channel of the connection
 * gains, a hand-opened one too: the frames go where amqplib writes its own, to the channel's
 * queue of frames, in the same order, and in the same pieces (`writeAsAmqplib`), so the queue's
 * high-water mark, which counts pieces, holds back as much as before (`publish()` returns false
 * at the same point). What `encodePublishFrames` does not cover goes to amqplib's encoder
 * unchanged, and so does every other method. When amqplib closes the connection it replaces
 * `sendMessage` with one that throws, and this wrapper goes with it; a connection already
 * closing (its `sendMessage` no longer amqplib's own) is left alone.
 *
 * This wraps a method of an object amqplib does not export, the kind of reach the style guide
 * warns against; it is kept to this file, every member is checked before use, and the
 * encoder's output is compared byte for byte with amqplib's in `publish-frames.spec.ts`.
 * Returns false, changing nothing, when amqplib's connection is not shaped as expected.
 */
export function encodePublishesInOneBuffer(connection: ChannelModel): boolean {
  const inner = amqplibConnectionOf(connection);
  if (inner === undefined) return false;
  if (ONE_BUFFER.has(inner)) return true;
  const sendMessage = inner.sendMessage;
  const own = (Object.getPrototypeOf(inner) as AmqplibConnection | null)?.sendMessage;
  if (typeof sendMessage !== 'function' || sendMessage !== own || !Array.isArray(inner.channels) || typeof inner.frameMax !== 'number') return false;
  const original = sendMessage as SendMessage;
  const wrapped: SendMessage = function (this: AmqplibConnection, channel, method, fields, properties, props, content) {
    if (method === BASIC_PUBLISH && properties === BASIC_PROPERTIES && fields === props && Buffer.isBuffer(content)) {
      const queue = (this.channels as Array<{ buffer?: Partial<FrameQueue> } | undefined>)[channel]?.buffer;
      if (typeof queue?.write === 'function' && typeof this.frameMax === 'number') {
        const frames = encodePublishFrames(channel, fields as PublishFields, content, this.frameMax);
        if (frames !== undefined) {
          this.sentSinceLastCheck = true;
          return writeAsAmqplib(queue as FrameQueue, frames);
        }
      }
    }
    return original.call(this, channel, method, fields, properties, props, content);
  };
  inner.sendMessage = wrapped;
  ONE_BUFFER.add(inner);
  return true;
}

/**
 * Writes a publish's frames to the channel's queue in the chunks amqplib would: all in one below
 * 2048 bytes; otherwise the method and header frames (together below 2048 bytes, else apart),
 * then the body frame. Returns what the last write returned, or true with no body, as amqplib does.
 */
function writeAsAmqplib(queue: FrameQueue, frames: Buffer): boolean {
  if (frames.length < SINGLE_CHUNK_THRESHOLD) return queue.write(frames);
  const headerAt = 8 + frames.readUInt32BE(3);
  const bodyAt = headerAt + 8 + frames.readUInt32BE(headerAt + 3);
  if (bodyAt < SINGLE_CHUNK_THRESHOLD) queue.write(frames.subarray(0, bodyAt));
  else {
    queue.write(frames.subarray(0, headerAt));
    queue.write(frames.subarray(headerAt, bodyAt));
  }
  return bodyAt === frames.length ? true : queue.write(frames.subarray(bodyAt));
}

const ONE_BUFFER = new WeakSet<AmqplibConnection>();

function isWritableSocket(value: unknown): value is Duplex {
  const candidate = value as Partial<Duplex> | null | undefined;
  return typeof candidate?.write === 'function' && typeof candidate.cork === 'function' && typeof candidate.uncork === 'function';
}
