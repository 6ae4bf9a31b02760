import type { INestApplicationContext } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import { AmqpConnection, RabbitMQModule, RabbitRPC } from '@warren/rabbitmq';
import type { ChannelModel } from 'amqplib';
import type { Duplex } from 'node:stream';
import { CapturingLogger, createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, closeConnectionsNamed, uniqueName, waitFor } from './support/broker';

const exchange = uniqueName('coalesce.x');
const queue = uniqueName('coalesce.q');
const bigQueue = uniqueName('coalesce.big');
const rpcQueue = uniqueName('coalesce.rpc');
const connectionName = uniqueName('coalesce.conn');

@Injectable()
class Echo {
  @RabbitRPC({ exchange, routingKey: 'echo', queue: rpcQueue })
  echo(message: { n: number }): { n: number } {
    return message;
  }
}

type WatchedSocket = Duplex & { _writev?: (...args: unknown[]) => void };

/**
 * Watches the socket of a connection: its writes to the kernel (one `_write` per lone chunk, one
 * `_writev` per batch of chunks), how often `write()` reported a full buffer, and, for every turn
 * of the event loop that wrote, whether the socket was uncorked and empty by the next `setImmediate`.
 */
function watchWrites(connection: ChannelModel | undefined) {
  const socket = (connection as unknown as { connection: { stream: WatchedSocket } }).connection.stream;
  let writes = 0;
  let chunks = 0;
  let full = 0;
  const turns: boolean[] = [];
  let checking = false;
  const single = socket._write;
  const batch = socket._writev;
  // Warren's coalescing puts its own `write` on the socket; without it, `write` is the prototype's.
  const ownWrite = Object.prototype.hasOwnProperty.call(socket, 'write');
  const original = socket.write;
  const write = original.bind(socket);
  socket._write = function (this: Duplex, ...args: Parameters<Duplex['_write']>) {
    writes++;
    chunks++;
    return single.apply(this, args);
  };
  socket._writev = function (this: Duplex, ...args: unknown[]) {
    writes++;
    chunks += (args[0] as unknown[]).length;
    return batch?.apply(this, args);
  };
  socket.write = ((...args: Parameters<Duplex['write']>) => {
    if (!checking) {
      checking = true;
      setImmediate(() => {
        checking = false;
        turns.push(socket.writableCorked === 0 && socket.writableLength === 0);
      });
    }
    const room = write(...args);
    if (!room) full++;
    return room;
  }) as Duplex['write'];
  return {
    writes: () => writes,
    chunks: () => chunks,
    /** write() calls that returned false (the socket's buffer past its high-water mark). */
    full: () => full,
    /** Per turn that wrote: true when everything it wrote had gone to the kernel by the next setImmediate. */
    turns: () => turns,
    stop: () => {
      socket._write = single;
      socket._writev = batch;
      if (ownWrite) socket.write = original;
      else delete (socket as { write?: unknown }).write;
    },
  };
}

describe('frames written in one turn of the event loop leave the socket together', () => {
  let admin: BrokerAdmin;
  let app: INestApplicationContext;
  let amqp: AmqpConnection;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('queue', queue, bigQueue, rpcQueue);
    admin.track('exchange', exchange);
    app = await createApp(
      {
        imports: [
          RabbitMQModule.forRoot({
            uri: AMQP_URL,
            connectionName,
            exchanges: [{ name: exchange, type: 'direct' }],
            queues: [
              { name: queue, bindings: [{ exchange, routingKey: 'small' }] },
              { name: bigQueue, bindings: [{ exchange, routingKey: 'big' }] },
            ],
            connectionInitOptions: { wait: true },
          }),
        ],
        providers: [Echo],
      },
      new CapturingLogger(),
    );
    amqp = app.get(AmqpConnection);
  });

  afterAll(async () => {
    await app?.close();
    await admin?.close();
  });

  beforeEach(async () => {
    await admin.raw(async (ch) => {
      await ch.purgeQueue(queue);
      await ch.purgeQueue(bigQueue);
    });
  });

  it('sends 500 publishes of one turn in far fewer socket writes than messages, every one confirmed', async () => {
    const watch = watchWrites(amqp.connection);
    try {
      await Promise.all(Array.from({ length: 500 }, (_, i) => amqp.publish(exchange, 'small', { i })));
    } finally {
      watch.stop();
    }
    expect(await admin.messageCount(queue)).toBe(500);
    // amqplib writes each publish (and channel 0's frames) as its own chunk: 500 or more of them.
    expect(watch.chunks()).toBeGreaterThanOrEqual(500);
    expect(watch.writes()).toBeLessThan(watch.chunks() / 10);
  });

  it('holds nothing past its turn: what a turn wrote has gone to the kernel by the next setImmediate', async () => {
    const watch = watchWrites(amqp.connection);
    try {
      for (let round = 0; round < 20; round++) {
        await Promise.all(Array.from({ length: 1 + round * 5 }, (_, i) => amqp.publish(exchange, 'small', { round, i })));
        await amqp.request<{ n: number }>({ exchange, routingKey: 'echo', payload: { n: round } });
      }
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      watch.stop();
    }
    expect(watch.turns().length).toBeGreaterThanOrEqual(40);
    expect(watch.turns().filter((flushed) => !flushed)).toEqual([]);
  });

  it('keeps order and loses nothing when one turn writes past the socket buffer (backpressure and drain)', async () => {
    const body = 'x'.repeat(48 * 1024);
    const watch = watchWrites(amqp.connection);
    try {
      await Promise.all(Array.from({ length: 120 }, (_, i) => amqp.publish(exchange, 'big', { i, body })));
    } finally {
      watch.stop();
    }
    // The socket's buffer filled (write() returned false) and amqplib waited for drain.
    expect(watch.full()).toBeGreaterThan(0);
    expect(await admin.messageCount(bigQueue)).toBe(120);
    for (let i = 0; i < 120; i++) {
      const message = await waitFor(() => admin.get(bigQueue), `message ${i} on ${bigQueue}`, 5000);
      const { i: got, body: text } = JSON.parse(message.content.toString()) as { i: number; body: string };
      expect(got).toBe(i);
      expect(text).toBe(body);
    }
  });

  it('batches the requests, replies and acks of concurrent RPC calls', async () => {
    const watch = watchWrites(amqp.connection);
    let replies: Array<{ n: number }>;
    try {
      replies = await Promise.all(Array.from({ length: 200 }, (_, n) => amqp.request<{ n: number }>({ exchange, routingKey: 'echo', payload: { n } })));
    } finally {
      watch.stop();
    }
    expect(replies.map((r) => r.n)).toEqual(Array.from({ length: 200 }, (_, n) => n));
    // 200 requests, 200 replies and 200 acks, all on this one connection.
    expect(watch.chunks()).toBeGreaterThanOrEqual(600);
    expect(watch.writes()).toBeLessThan(watch.chunks() / 3);
  });

  it('coalesces the writes of a channel opened by hand on amqp.connection too (it shares the socket)', async () => {
    const channel = await amqp.connection!.createConfirmChannel();
    const watch = watchWrites(amqp.connection);
    try {
      for (let i = 0; i < 300; i++) channel.publish(exchange, 'small', Buffer.from(JSON.stringify({ i })));
      await channel.waitForConfirms();
    } finally {
      watch.stop();
      await channel.close();
    }
    expect(await admin.messageCount(queue)).toBe(300);
    expect(watch.chunks()).toBeGreaterThanOrEqual(300);
    expect(watch.writes()).toBeLessThan(watch.chunks() / 10);
  });

  it('loses nothing when the broker closes the connection in the middle of publishing, and coalesces on the new socket', async () => {
    const before = amqp.connection;
    const outcomes: Array<{ i: number; error?: unknown }> = [];
    let sent = 0;
    let stop = false;
    // Publishing without pause, 50 in flight, while the broker closes the connection under it.
    const pump = (async () => {
      while (!stop) {
        const window = Array.from({ length: 50 }, () => {
          const i = sent++;
          return amqp.publish(exchange, 'small', { i }).then(
            () => ({ i }),
            (error: unknown) => ({ i, error }),
          );
        });
        outcomes.push(...(await Promise.all(window)));
      }
    })();
    await waitFor(() => outcomes.length >= 500, '500 publishes confirmed before the close');
    expect(await closeConnectionsNamed(connectionName)).toBeGreaterThan(0);
    await waitFor(() => amqp.connection !== undefined && amqp.connection !== before && amqp.isConnected, 'the reconnect', 20_000);
    const atReconnect = sent;
    await waitFor(() => outcomes.length >= atReconnect + 500, '500 more publishes confirmed after the reconnect', 20_000);
    stop = true;
    await pump;

    // Every publish settled, and every one confirmed (re-sent on the new connection if its confirm was lost).
    expect(outcomes).toHaveLength(sent);
    expect(outcomes.filter((o) => o.error !== undefined)).toEqual([]);
    const ids = new Set<number>();
    await admin.raw(async (ch) => {
      for (;;) {
        const message = await ch.get(queue, { noAck: true });
        if (!message) break;
        ids.add((JSON.parse(message.content.toString()) as { i: number }).i);
      }
    });
    const missing = Array.from({ length: sent }, (_, i) => i).filter((i) => !ids.has(i));
    expect(missing).toEqual([]);

    const watch = watchWrites(amqp.connection);
    try {
      await Promise.all(Array.from({ length: 300 }, (_, i) => amqp.publish(exchange, 'small', { i })));
    } finally {
      watch.stop();
    }
    expect(watch.chunks()).toBeGreaterThanOrEqual(300);
    expect(watch.writes()).toBeLessThan(watch.chunks() / 10);
  });
});
