import { Controller, Module, UseFilters, type INestMicroservice } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { NestFactory } from '@nestjs/core';
import { Injectable } from '@nestjs/common';
import { AmqpConnection, DeadLetterService, DEAD_LETTER_HEADERS, RabbitMQModule, RabbitRPC, RabbitSubscribe, RpcRemoteError } from '@warren/rabbitmq';
import { WarrenClient, WarrenRmqContext, WarrenRpcExceptionFilter, WarrenServer } from '@warren/rabbitmq/microservices';
import { NonRetryableError } from '@warren/rabbitmq';
import { firstValueFrom, from, lastValueFrom, of, timer, map } from 'rxjs';
import { createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, closeConnectionsNamed, uniqueName, waitFor } from './support/broker';

const exchange = uniqueName('ms.x');
const requests = `${exchange}.requests`;
const events = `${exchange}.events`;
const serverConnectionName = uniqueName('ms-server');

const state = {
  created: [] as unknown[],
  audited: [] as string[],
  flaky: 0,
  paid: new Map<string, number>(),
  stream: [] as number[],
  contexts: [] as Array<{ pattern: string; headers: Record<string, unknown>; routingKey: string }>,
};

@Controller()
class MathController {
  @MessagePattern('math.sum')
  sum(@Payload() numbers: number[]): number {
    return numbers.reduce((a, b) => a + b, 0);
  }

  @MessagePattern('math.async')
  async asyncSum(numbers: number[]): Promise<number> {
    await new Promise((r) => setTimeout(r, 5));
    return numbers.reduce((a, b) => a + b, 0);
  }

  @MessagePattern('math.stream')
  stream(numbers: number[]) {
    return from(numbers).pipe(map((n) => n * 10));
  }

  @MessagePattern('math.fail')
  fail(): never {
    throw new RpcException({ status: 'error', message: 'division by zero', code: 'E_DIV' });
  }

  @MessagePattern({ cmd: 'echo' })
  echo(@Payload() data: unknown, @Ctx() context: WarrenRmqContext): unknown {
    state.contexts.push({ pattern: context.getPattern(), headers: context.getHeaders(), routingKey: context.getMessage().fields.routingKey });
    return data;
  }

  @EventPattern('order.created')
  created(data: unknown): void {
    state.created.push(data);
  }

  @EventPattern('order.*', { queue: `${events}.audit` })
  audit(_data: unknown, @Ctx() context: WarrenRmqContext): void {
    state.audited.push(context.getMessage().fields.routingKey);
  }

  @EventPattern('job.flaky', { retry: { maxAttempts: 3, backoff: { type: 'fixed', delay: 100 } } })
  flaky(): void {
    state.flaky++;
    throw new Error('always fails');
  }

  @EventPattern('payment.taken', { dedup: { key: (m: { payload: unknown }) => (m.payload as { id: string }).id } })
  pay(data: { id: string }): void {
    state.paid.set(data.id, (state.paid.get(data.id) ?? 0) + 1);
  }

  @EventPattern('stream.item', { prefetch: 20 })
  async item(data: { n: number }) {
    await lastValueFrom(timer(1));
    state.stream.push(data.n);
    return of(true);
  }
}

@Module({ controllers: [MathController] })
class ServerModule {}

describe('Warren as a Nest microservices transport', () => {
  let server: INestMicroservice;
  let client: WarrenClient;
  let admin: BrokerAdmin;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange, `${exchange}.unrouted`);
    server = await NestFactory.createMicroservice(ServerModule, {
      strategy: new WarrenServer({ uri: AMQP_URL, exchange, connectionName: serverConnectionName }),
      logger: ['error'],
    });
    await server.listen();
    client = new WarrenClient({ uri: AMQP_URL, exchange, timeout: 5000 });
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
    const queues = [
      requests,
      `${exchange}.unrouted`,
      `${exchange}.unrouted.dlq`,
      `${events}.order.created`,
      `${events}.audit`,
      `${events}.job.flaky`,
      `${events}.job.flaky.dlq`,
      `${events}.payment.taken`,
      `${events}.stream.item`,
    ];
    admin.track('queue', ...queues);
    await admin?.close();
  });

  it('answers send() from @MessagePattern handlers: value, promise, observable, object patterns', async () => {
    await expect(firstValueFrom(client.send('math.sum', [1, 2, 3]))).resolves.toBe(6);
    await expect(firstValueFrom(client.send('math.async', [4, 5]))).resolves.toBe(9);
    await expect(lastValueFrom(client.send('math.stream', [1, 2, 3]))).resolves.toBe(30);
    await expect(firstValueFrom(client.send({ cmd: 'echo' }, { a: 1 }))).resolves.toEqual({ a: 1 });
    expect(state.contexts[0]).toMatchObject({ pattern: '{"cmd":"echo"}', routingKey: '{"cmd":"echo"}' });
  });

  it('answers concurrent calls', async () => {
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => firstValueFrom(client.send('math.sum', [i, 1]))));
    expect(results).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('delivers an RpcException to the caller in the shape Nest users expect', async () => {
    const error = await firstValueFrom(client.send('math.fail', [])).catch((e: unknown) => e);
    expect(error).toEqual({ status: 'error', message: 'division by zero', code: 'E_DIV' });
  });

  it('answers a request for an unknown pattern with an error at once, not a timeout', async () => {
    const started = Date.now();
    const error = await firstValueFrom(client.send('math.unknown', [])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcRemoteError);
    expect((error as RpcRemoteError).remoteName).toBe('NoHandlerError');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('emit() completes on confirm and routes events by topic to every matching queue', async () => {
    await lastValueFrom(client.emit('order.created', { id: 'o1' }), { defaultValue: undefined });
    await waitFor(() => state.created.length === 1 && state.audited.includes('order.created'), 'both event handlers');
    await lastValueFrom(client.emit('order.paid', { id: 'o1' }), { defaultValue: undefined });
    await waitFor(() => state.audited.includes('order.paid'), 'the wildcard handler');
    expect(state.created).toEqual([{ id: 'o1' }]);
  });

  it('retries a throwing event handler, then dead-letters it with the reason', async () => {
    await lastValueFrom(client.emit('job.flaky', { j: 1 }), { defaultValue: undefined });
    const dlq = `${events}.job.flaky.dlq`;
    await waitFor(async () => (await admin.messageCount(dlq)) === 1, 'the dead letter');
    expect(state.flaky).toBe(3);
    const dead = await admin.get(dlq);
    expect(dead && (dead.properties.headers as Record<string, unknown>)[DEAD_LETTER_HEADERS.attempts]).toBe(3);
  });

  it('dead-letters an event whose pattern no handler takes', async () => {
    await lastValueFrom(client.emit('nobody.listens', { x: 1 }), { defaultValue: undefined });
    await waitFor(async () => (await admin.messageCount(`${exchange}.unrouted.dlq`)) === 1, 'the unknown event dead-lettered');
    const dead = await admin.get(`${exchange}.unrouted.dlq`);
    expect(dead && (dead.properties.headers as Record<string, unknown>)[DEAD_LETTER_HEADERS.errorName]).toBe('NoHandlerError');
  });

  it('absorbs a duplicate event with dedup', async () => {
    for (let i = 0; i < 3; i++) await lastValueFrom(client.emit('payment.taken', { id: 'p1' }), { defaultValue: undefined });
    const amqp = server.unwrap<AmqpConnection>();
    await waitFor(() => amqp.getHandlerStats()['payment.taken']?.duplicates === 2, 'two duplicates');
    expect(state.paid.get('p1')).toBe(1);
  });

  it('loses nothing when the broker closes the connection mid-stream', async () => {
    const total = 2000;
    const sends = Array.from({ length: total }, (_, n) => lastValueFrom(client.emit('stream.item', { n }), { defaultValue: undefined }));
    await waitFor(() => state.stream.length > 100, 'the stream under way');
    await closeConnectionsNamed(serverConnectionName);
    await Promise.all(sends);
    await waitFor(() => new Set(state.stream).size === total, 'every event handled', 30_000);
  }, 45_000);

  it('interoperates with the plain module both ways (same wire format: pattern = routing key, body = data)', async () => {
    const plainQueue = uniqueName('ms.plain');
    const eventQueue = uniqueName('ms.plain-events');
    admin.track('queue', plainQueue, eventQueue);
    const seen: unknown[] = [];
    @Injectable()
    class Plain {
      @RabbitRPC({ exchange, routingKey: 'plain.double', queue: plainQueue })
      double(n: number): number {
        return n * 2;
      }

      @RabbitSubscribe({ exchange, routingKey: 'plain.event', queue: eventQueue })
      onEvent(data: unknown): void {
        seen.push(data);
      }
    }
    const app = await createApp({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL })], providers: [Plain] });
    try {
      const amqp = app.get(AmqpConnection);
      await expect(amqp.request({ exchange, routingKey: 'math.sum', payload: [2, 2] })).resolves.toBe(4);
      await expect(firstValueFrom(client.send('plain.double', 21))).resolves.toBe(42);
      await lastValueFrom(client.emit('plain.event', { e: 1 }), { defaultValue: undefined });
      await waitFor(() => seen.length === 1, 'the plain subscriber');
      expect(app.get(DeadLetterService)).toBeDefined();
    } finally {
      await app.close();
    }
  });
});

const filteredExchange = uniqueName('ms.filtered');
const filtered = { declined: 0 };

@Controller()
@UseFilters(new WarrenRpcExceptionFilter())
class FilteredController {
  @MessagePattern('calc.broken')
  broken(): never {
    throw new TypeError('bad operand');
  }

  @MessagePattern('calc.rpc-exception')
  rpcException(): never {
    throw new RpcException({ status: 'error', message: 'still the Nest shape' });
  }

  @EventPattern('card.charge', { retry: { maxAttempts: 5, backoff: { type: 'fixed', delay: 100 } } })
  charge(): void {
    filtered.declined++;
    throw new NonRetryableError('card declined');
  }
}

@Module({ controllers: [FilteredController] })
class FilteredModule {}

describe('WarrenRpcExceptionFilter', () => {
  let server: INestMicroservice;
  let client: WarrenClient;
  let admin: BrokerAdmin;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', filteredExchange, `${filteredExchange}.unrouted`);
    admin.track(
      'queue',
      `${filteredExchange}.requests`,
      `${filteredExchange}.unrouted`,
      `${filteredExchange}.unrouted.dlq`,
      `${filteredExchange}.events.card.charge`,
      `${filteredExchange}.events.card.charge.dlq`,
    );
    server = await NestFactory.createMicroservice(FilteredModule, {
      strategy: new WarrenServer({ uri: AMQP_URL, exchange: filteredExchange }),
      logger: ['error'],
    });
    await server.listen();
    client = new WarrenClient({ uri: AMQP_URL, exchange: filteredExchange });
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
    await admin?.close();
  });

  it('sends other errors to the caller as a typed RpcRemoteError, and keeps the Nest shape of RpcExceptions', async () => {
    const error = await firstValueFrom(client.send('calc.broken', {})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcRemoteError);
    expect(error).toMatchObject({ remoteName: 'TypeError', message: 'bad operand' });
    await expect(firstValueFrom(client.send('calc.rpc-exception', {}))).rejects.toEqual({ status: 'error', message: 'still the Nest shape' });
  });

  it('lets a NonRetryableError from an event handler skip the retries and reach the dead-letter queue with its reason', async () => {
    await lastValueFrom(client.emit('card.charge', { id: 1 }), { defaultValue: undefined });
    const dlq = `${filteredExchange}.events.card.charge.dlq`;
    await waitFor(async () => (await admin.messageCount(dlq)) === 1, 'the dead letter');
    expect(filtered.declined).toBe(1);
    const dead = await admin.get(dlq);
    const headers = (dead && dead.properties.headers) as Record<string, unknown>;
    expect(headers[DEAD_LETTER_HEADERS.errorName]).toBe('NonRetryableError');
    expect(headers[DEAD_LETTER_HEADERS.errorMessage]).toBe('card declined');
  });
});
