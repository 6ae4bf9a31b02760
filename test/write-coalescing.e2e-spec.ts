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

/** Counts the socket's writes to the kernel: one `_write` per lone chunk, one `_writev` per batch of chunks. */
function watchWrites(connection: ChannelModel | undefined): { writes: () => number; chunks: () => number; stop: () => void } {
  const socket = (connection as unknown as { connection: { stream: Duplex & { _writev?: (...args: unknown[]) => void } } }).connection.stream;
  let writes = 0;
  let chunks = 0;
  const single = socket._write;
  const batch = socket._writev;
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
  return {
    writes: () => writes,
    chunks: () => chunks,
    stop: () => {
      socket._write = single;
      socket._writev = batch;
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
    await admin.raw((ch) => ch.purgeQueue(queue));
  });

  it('keeps order and loses nothing when one turn writes past the socket buffer (backpressure and drain)', async () => {
    const body = 'x'.repeat(48 * 1024);
    await Promise.all(Array.from({ length: 120 }, (_, i) => amqp.publish(exchange, 'big', { i, body })));
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
    await admin.raw((ch) => ch.purgeQueue(queue));
  });

  it('does the same on the socket of a new connection after a reconnect', async () => {
    await admin.raw((ch) => ch.purgeQueue(queue));
    const before = amqp.connection;
    expect(await closeConnectionsNamed(connectionName)).toBeGreaterThan(0);
    await waitFor(() => amqp.connection !== undefined && amqp.connection !== before && amqp.isConnected, 'the reconnect', 20_000);
    const watch = watchWrites(amqp.connection);
    try {
      await Promise.all(Array.from({ length: 300 }, (_, i) => amqp.publish(exchange, 'small', { i })));
    } finally {
      watch.stop();
    }
    expect(await admin.messageCount(queue)).toBe(300);
    expect(watch.writes()).toBeLessThan(watch.chunks() / 10);
  });
});
