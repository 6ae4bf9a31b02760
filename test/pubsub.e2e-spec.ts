import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { AmqpConnection, Nack, RabbitMQModule, RabbitRPC, RabbitSubscribe, RpcRemoteError } from '@warren/rabbitmq';
import { createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, uniqueName, waitFor } from './support/broker';

const exchange = uniqueName('pubsub.x');
const queue = uniqueName('pubsub.q');
const rpcQueue = uniqueName('pubsub.rpc');

@Injectable()
class Handlers {
  readonly received: unknown[] = [];
  readonly headers: unknown[] = [];

  @RabbitSubscribe({ exchange, routingKey: 'thing.*', queue })
  onThing(payload: unknown, _message: unknown, headers: Record<string, unknown>): void | Nack {
    this.received.push(payload);
    this.headers.push(headers);
  }

  @RabbitRPC({ exchange, routingKey: 'rpc.echo', queue: rpcQueue })
  echo(payload: unknown): unknown {
    return payload;
  }

  @RabbitRPC({ exchange, routingKey: 'rpc.fail', queue: rpcQueue })
  fail(): never {
    const error = new Error('out of stock') as Error & { code: string; data: unknown };
    error.name = 'OutOfStockError';
    error.code = 'OUT_OF_STOCK';
    error.data = { sku: 'A1' };
    throw error;
  }
}

describe('publish, subscribe and RPC', () => {
  let app: INestApplicationContext;
  let admin: BrokerAdmin;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('queue', queue, rpcQueue);
    admin.track('exchange', exchange);
    app = await createApp({
      imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, exchanges: [{ name: exchange, type: 'topic' }] })],
      providers: [Handlers],
    });
  });

  afterAll(async () => {
    await app?.close();
    await admin?.close();
  });

  it('delivers a confirmed publish to the matching handler with headers', async () => {
    const amqp = app.get(AmqpConnection);
    await amqp.publish(exchange, 'thing.created', { id: 1 }, { headers: { tenant: 'acme' } });
    const handlers = app.get(Handlers);
    await waitFor(() => handlers.received.length === 1, 'one message');
    expect(handlers.received[0]).toEqual({ id: 1 });
    expect(handlers.headers[0]).toMatchObject({ tenant: 'acme' });
  });

  it('answers RPC requests, dispatching handlers that share a queue by routing key', async () => {
    const amqp = app.get(AmqpConnection);
    for (const payload of [0, '', false, null, { a: [1, 2] }, 'text']) {
      await expect(amqp.request({ exchange, routingKey: 'rpc.echo', payload })).resolves.toEqual(payload);
    }
  });

  it('rejects the caller with the remote error at once when the handler throws', async () => {
    const amqp = app.get(AmqpConnection);
    const started = Date.now();
    const error = (await amqp.request({ exchange, routingKey: 'rpc.fail', payload: {}, timeout: 5000 }).catch((e: unknown) => e)) as RpcRemoteError;
    expect(error).toBeInstanceOf(RpcRemoteError);
    expect(error.remoteName).toBe('OutOfStockError');
    expect(error.remoteCode).toBe('OUT_OF_STOCK');
    expect(error.data).toEqual({ sku: 'A1' });
    expect(error.message).toBe('out of stock');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
