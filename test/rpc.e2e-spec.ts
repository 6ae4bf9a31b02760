import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import * as amqplib from 'amqplib';
import {
  AmqpConnection,
  ConnectionClosedError,
  RabbitMQModule,
  RabbitRPC,
  RpcRemoteError,
  RpcReplyInvalidError,
  RpcTimeoutError,
  UnroutableMessageError,
} from '@warren/rabbitmq';
import { CapturingLogger, createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, channelsOfConnectionsNamed, closeConnectionsNamed, uniqueName, waitFor } from './support/broker';

const exchange = uniqueName('rpc.x');
const rpcQ = uniqueName('rpc.q');
/** Bound, never consumed: requests sit here until they expire. */
const silentQ = uniqueName('rpc.silent');
/** Consumed by a raw amqplib "server" the tests control. */
const rawQ = uniqueName('rpc.raw');

@Injectable()
class Server {
  readonly received: unknown[] = [];

  @RabbitRPC({ exchange, routingKey: 'rpc.echo', queue: rpcQ })
  echo(payload: unknown): unknown {
    this.received.push(payload);
    return payload;
  }

  @RabbitRPC({ exchange, routingKey: 'rpc.sum', queue: rpcQ })
  sum(payload: number[]): number {
    return payload.reduce((a, b) => a + b, 0);
  }

  @RabbitRPC({ exchange, routingKey: 'rpc.fail', queue: rpcQ })
  fail(): never {
    throw Object.assign(new Error('credit limit exceeded'), { name: 'CreditLimitError', code: 'CREDIT_LIMIT', data: { limit: 100 } });
  }

  @RabbitRPC({ exchange, routingKey: 'rpc.fail-async', queue: rpcQ })
  async failAsync(): Promise<never> {
    await new Promise((r) => setTimeout(r, 5));
    throw new RpcException({ message: 'no such customer', customerId: 'c-9' });
  }
}

/** A raw amqplib consumer on `rawQ`; `onRequest` decides what (if anything) to answer. */
async function startRawServer(onRequest: (channel: amqplib.Channel, message: amqplib.ConsumeMessage) => void): Promise<() => Promise<void>> {
  const connection = await amqplib.connect(AMQP_URL);
  const channel = await connection.createChannel();
  await channel.consume(rawQ, (message) => message && onRequest(channel, message), { noAck: true });
  return async () => {
    await connection.close().catch(() => undefined);
  };
}

describe('RPC', () => {
  let admin: BrokerAdmin;
  let app: INestApplicationContext;
  let amqp: AmqpConnection;

  const call = (routingKey: string, payload?: unknown, timeout?: number) => amqp.request({ exchange, routingKey, payload, timeout });
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (e: unknown) => e,
    );

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('queue', rpcQ, silentQ, rawQ);
    admin.track('exchange', exchange);
    app = await createApp(
      {
        imports: [
          RabbitMQModule.forRoot({
            uri: AMQP_URL,
            exchanges: [{ name: exchange, type: 'topic' }],
            queues: [
              { name: silentQ, bindings: [{ exchange, routingKey: 'silent.*' }] },
              { name: rawQ, bindings: [{ exchange, routingKey: 'raw.*' }] },
            ],
          }),
        ],
        providers: [Server],
      },
      new CapturingLogger(),
    );
    amqp = app.get(AmqpConnection);
  });

  afterAll(async () => {
    await app?.close();
    await admin?.close();
  });

  it('sends a request and resolves with the reply', async () => {
    await expect(call('rpc.echo', { order: 1, items: ['a', 'b'] })).resolves.toEqual({ order: 1, items: ['a', 'b'] });
  });

  it('keeps falsy payloads as they are, both ways', async () => {
    const server = app.get(Server);
    server.received.length = 0;
    for (const payload of [0, '', false, null]) {
      await expect(call('rpc.echo', payload)).resolves.toBe(payload);
    }
    expect(server.received).toEqual([0, '', false, null]);
  });

  it('dispatches several RPC handlers sharing one queue by routing key', async () => {
    const [sum, echo] = await Promise.all([call('rpc.sum', [1, 2, 3]), call('rpc.echo', 'hi')]);
    expect(sum).toBe(6);
    expect(echo).toBe('hi');
    expect(await admin.consumerCount(rpcQ)).toBe(1);
  });

  it('rejects at once with RpcRemoteError carrying the remote name, message, code and data', async () => {
    const started = Date.now();
    const error = (await failure(call('rpc.fail', {}, 8000))) as RpcRemoteError;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toBeInstanceOf(RpcRemoteError);
    expect(error.code).toBe('RPC_REMOTE_ERROR');
    expect(error.remoteName).toBe('CreditLimitError');
    expect(error.message).toBe('credit limit exceeded');
    expect(error.remoteCode).toBe('CREDIT_LIMIT');
    expect(error.data).toEqual({ limit: 100 });
    expect(error.routingKey).toBe('rpc.fail');
  });

  it("keeps a Nest RpcException's error payload in data", async () => {
    const error = (await failure(call('rpc.fail-async', {}, 8000))) as RpcRemoteError;
    expect(error).toBeInstanceOf(RpcRemoteError);
    expect(error.message).toBe('no such customer');
    expect(error.data).toEqual({ message: 'no such customer', customerId: 'c-9' });
  });

  it('rejects with RpcTimeoutError when no reply comes in time', async () => {
    const started = Date.now();
    const error = (await failure(call('silent.wait', { n: 1 }, 400))) as RpcTimeoutError;
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(RpcTimeoutError);
    expect(error.timeoutMs).toBe(400);
    expect(error.routingKey).toBe('silent.wait');
    expect(elapsed).toBeGreaterThanOrEqual(380);
    expect(elapsed).toBeLessThan(1200);
  });

  it('sends the request with an expiration equal to its timeout, and a reply-to address', async () => {
    await admin.raw((ch) => ch.purgeQueue(silentQ));
    const pending = failure(call('silent.expiry', { n: 2 }, 1500));
    const request = await waitFor(() => admin.get(silentQ), 'the request in the queue', 1400);
    expect(request.properties.expiration).toBe('1500');
    expect(request.properties.replyTo).toMatch(/^amq\.rabbitmq\.reply-to\./);
    expect(request.properties.correlationId).toEqual(expect.any(String));
    expect(await pending).toBeInstanceOf(RpcTimeoutError);
  });

  it('rejects with UnroutableMessageError at once when no server is bound', async () => {
    const started = Date.now();
    const error = (await failure(call('nobody.serves.this', {}, 8000))) as UnroutableMessageError;
    expect(error).toBeInstanceOf(UnroutableMessageError);
    expect(error.routingKey).toBe('nobody.serves.this');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('rejects with RpcReplyInvalidError when the reply is not valid JSON', async () => {
    const stop = await startRawServer((channel, message) => {
      channel.sendToQueue(message.properties.replyTo as string, Buffer.from('garbage{'), {
        correlationId: message.properties.correlationId as string,
        contentType: 'application/json',
      });
    });
    try {
      const error = (await failure(call('raw.garbage', {}, 5000))) as RpcReplyInvalidError;
      expect(error).toBeInstanceOf(RpcReplyInvalidError);
      expect(error.code).toBe('RPC_REPLY_INVALID');
      expect(error.routingKey).toBe('raw.garbage');
    } finally {
      await stop();
    }
  });

  it('answers 200 concurrent requests, each with its own reply', async () => {
    const payloads = Array.from({ length: 200 }, (_, i) => ({ i }));
    const replies = await Promise.all(payloads.map((p) => call('rpc.echo', p, 10_000)));
    expect(replies).toEqual(payloads);
  });

  it('opens the request channel and its reply consumer only with the first request: a publish-only app has none', async () => {
    const connectionName = uniqueName('rpc.lazy');
    const app = await createApp({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName })] });
    try {
      const clientAmqp = app.get(AmqpConnection);
      await clientAmqp.publish(exchange, 'nobody.listens', { n: 1 }, { mandatory: false });
      // The topology channel, the publisher's and its probe (used by the first publish to an exchange): none for request/reply.
      expect(clientAmqp.channelCounts).toEqual({ open: 3, total: 3 });
      await waitFor(async () => (await channelsOfConnectionsNamed(connectionName)).join() === '3', 'the broker to count 3 channels');
      await expect(clientAmqp.request({ exchange, routingKey: 'rpc.echo', payload: 'first', timeout: 5000 })).resolves.toBe('first');
      expect(clientAmqp.channelCounts).toEqual({ open: 4, total: 4 });
      await waitFor(async () => (await channelsOfConnectionsNamed(connectionName)).join() === '4', 'the broker to count 4 channels');
    } finally {
      await app.close();
    }
  });

  describe('when the connection drops', () => {
    const connectionName = uniqueName('rpc.client');
    let client: INestApplicationContext;

    beforeAll(async () => {
      client = await createApp({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName, reconnectTimeInSeconds: 0.2 })] }, new CapturingLogger());
    });

    afterAll(async () => {
      await client?.close();
    });

    it('rejects the calls in flight with ConnectionClosedError', async () => {
      const held: amqplib.ConsumeMessage[] = [];
      // A slow server: takes the requests and never answers.
      const stop = await startRawServer((_channel, message) => held.push(message));
      try {
        const clientAmqp = client.get(AmqpConnection);
        const calls = [1, 2, 3].map((n) => failure(clientAmqp.request({ exchange, routingKey: 'raw.slow', payload: { n }, timeout: 8000 })));
        await waitFor(() => held.length === 3, 'the server to hold all three requests');
        expect(await closeConnectionsNamed(connectionName)).toBe(1);
        // Timed from the close (rabbitmqctl itself can take seconds on a busy machine).
        const closedAt = Date.now();
        const errors = await Promise.all(calls);
        expect(Date.now() - closedAt).toBeLessThan(2000);
        for (const error of errors) {
          expect(error).toBeInstanceOf(ConnectionClosedError);
          expect((error as ConnectionClosedError).code).toBe('CONNECTION_CLOSED');
        }
        // And after the reconnect requests work again.
        await waitFor(() => clientAmqp.isConnected, 'the reconnect');
        await expect(clientAmqp.request({ exchange, routingKey: 'rpc.echo', payload: 'back', timeout: 5000 })).resolves.toBe('back');
      } finally {
        await stop();
      }
    });
  });
});
