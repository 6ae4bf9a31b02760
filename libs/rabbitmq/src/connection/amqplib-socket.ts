import type { Duplex } from 'node:stream';
import type { ChannelModel } from 'amqplib';

/**
 * The one place that reaches into amqplib internals: `ChannelModel.connection` is amqplib's
 * Connection and its `stream` the TCP or TLS socket that every frame is written to (through
 * the channels' multiplexer, or directly for channel 0 and heartbeats). Undefined if a future
 * amqplib stores it elsewhere; every caller then does without.
 */
export function socketOf(connection: ChannelModel): Duplex | undefined {
  const stream = (connection as unknown as { connection?: { stream?: unknown } }).connection?.stream;
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

function isWritableSocket(value: unknown): value is Duplex {
  const candidate = value as Partial<Duplex> | null | undefined;
  return typeof candidate?.write === 'function' && typeof candidate.cork === 'function' && typeof candidate.uncork === 'function';
}
