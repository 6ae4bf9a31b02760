import {
  Catch,
  Controller,
  Injectable,
  Scope,
  UseFilters,
  UseGuards,
  UseInterceptors,
  ValidationPipe,
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
  type INestApplicationContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { ConsumeMessage } from 'amqplib';
import { IsInt, IsString, Min } from 'class-validator';
import { tap, type Observable } from 'rxjs';
import { AmqpConnection, Nack, RabbitHeader, RabbitMQModule, RabbitPayload, RabbitRequest, RabbitSubscribe } from '@warren/rabbitmq';
import { CapturingLogger, createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, closeConnectionsNamed, rabbitmqctl, uniqueName, waitFor } from './support/broker';

const exchange = uniqueName('consume.x');
const dlx = uniqueName('consume.dlx');

/** One queue per behaviour; each dead-letters to `dlx` with its own name as key, into `<name>.dead`. */
const Q = {
  signature: uniqueName('consume.signature'),
  params: uniqueName('consume.params'),
  validation: uniqueName('consume.validation'),
  guard: uniqueName('consume.guard'),
  interceptor: uniqueName('consume.interceptor'),
  filter: uniqueName('consume.filter'),
  nackRequeue: uniqueName('consume.nack-requeue'),
  nackReject: uniqueName('consume.nack-reject'),
  throwSync: uniqueName('consume.throw-sync'),
  throwAsync: uniqueName('consume.throw-async'),
  errorRequeue: uniqueName('consume.error-requeue'),
  errorAck: uniqueName('consume.error-ack'),
  malformed: uniqueName('consume.malformed'),
  nonJson: uniqueName('consume.non-json'),
  prefetch: uniqueName('consume.prefetch'),
  bulkA: uniqueName('consume.bulk-a'),
  bulkB: uniqueName('consume.bulk-b'),
};
const dead = (queue: string): string => `${queue}.dead`;
const withDlx = { deadLetterExchange: dlx };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class CreateOrder {
  @IsString()
  sku!: string;

  @IsInt()
  @Min(1)
  qty!: number;
}

/** Deliveries seen before pipes and the handler run (interceptors run first). */
const validationDeliveries: unknown[] = [];
const guardSeen: Array<{ type: string; allow: unknown }> = [];
const interceptorTrace: string[] = [];
const filterCaught: string[] = [];

@Injectable()
class AllowFlagGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const payload = context.getArgByIndex<{ allow?: boolean }>(0);
    guardSeen.push({ type: context.getType(), allow: payload?.allow });
    return payload?.allow === true;
  }
}

@Injectable()
class TraceInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    interceptorTrace.push('before');
    return next.handle().pipe(tap(() => interceptorTrace.push('after')));
  }
}

@Injectable()
class CountDeliveries implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    validationDeliveries.push(context.getArgByIndex(0));
    return next.handle();
  }
}

/**
 * Records the error and answers in its place. (In Nest's external contexts a filter
 * must return something: one that returns undefined lets the error through.)
 */
@Catch()
class RecordingFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): string {
    filterCaught.push(`${host.getType()}: ${(exception as Error).message}`);
    return 'handled by the filter';
  }
}

class Concurrency {
  current = 0;
  max = 0;
  done = 0;
  async run(ms: number): Promise<void> {
    this.current++;
    this.max = Math.max(this.max, this.current);
    await sleep(ms);
    this.current--;
    this.done++;
  }
}

@Injectable()
class Handlers {
  readonly signature: Array<{ payload: unknown; message: ConsumeMessage; headers: Record<string, unknown> }> = [];
  readonly params: unknown[][] = [];
  readonly valid: unknown[] = [];
  readonly guarded: unknown[] = [];
  intercepted = 0;
  readonly nackRequeue: boolean[] = [];
  nackReject = 0;
  throwSync = 0;
  throwAsync = 0;
  readonly errorRequeue: boolean[] = [];
  errorAck = 0;
  malformed = 0;
  readonly nonJson: unknown[] = [];
  readonly prefetch = new Concurrency();
  readonly bulk = new Concurrency();

  @RabbitSubscribe({ exchange, routingKey: 'sig.*', queue: Q.signature })
  onSignature(payload: unknown, message: ConsumeMessage, headers: Record<string, unknown>): void {
    this.signature.push({ payload, message, headers });
  }

  @RabbitSubscribe({ queue: Q.params })
  onParams(
    @RabbitPayload() whole: unknown,
    @RabbitPayload('id') id: unknown,
    @RabbitHeader('tenant') tenant: unknown,
    @RabbitHeader() headers: Record<string, unknown>,
    @RabbitRequest() message: ConsumeMessage,
  ): void {
    this.params.push([whole, id, tenant, headers, message]);
  }

  @RabbitSubscribe({ queue: Q.validation, queueOptions: withDlx })
  @UseInterceptors(CountDeliveries)
  onValidated(@RabbitPayload(new ValidationPipe({ transform: true })) order: CreateOrder): void {
    this.valid.push(order);
  }

  @RabbitSubscribe({ queue: Q.guard, queueOptions: withDlx })
  @UseGuards(AllowFlagGuard)
  onGuarded(payload: unknown): void {
    this.guarded.push(payload);
  }

  @RabbitSubscribe({ queue: Q.interceptor })
  @UseInterceptors(TraceInterceptor)
  onIntercepted(): void {
    this.intercepted++;
    interceptorTrace.push('handler');
  }

  @RabbitSubscribe({ queue: Q.filter, queueOptions: withDlx })
  @UseFilters(new RecordingFilter())
  onFiltered(): void {
    throw new Error('caught by the filter');
  }

  @RabbitSubscribe({ queue: Q.nackRequeue, queueOptions: withDlx })
  onNackRequeue(_payload: unknown, message: ConsumeMessage): Nack | void {
    this.nackRequeue.push(message.fields.redelivered);
    if (!message.fields.redelivered) return new Nack(true);
  }

  @RabbitSubscribe({ queue: Q.nackReject, queueOptions: withDlx })
  onNackReject(): Nack {
    this.nackReject++;
    return new Nack();
  }

  @RabbitSubscribe({ queue: Q.throwSync, queueOptions: withDlx })
  onThrowSync(): void {
    this.throwSync++;
    throw new Error('sync failure');
  }

  @RabbitSubscribe({ queue: Q.throwAsync, queueOptions: withDlx })
  async onThrowAsync(): Promise<void> {
    this.throwAsync++;
    await sleep(5);
    throw new Error('async failure');
  }

  @RabbitSubscribe({ queue: Q.errorRequeue, queueOptions: withDlx, errorBehavior: 'requeue' })
  onErrorRequeue(_payload: unknown, message: ConsumeMessage): void {
    this.errorRequeue.push(message.fields.redelivered);
    if (!message.fields.redelivered) throw new Error('first attempt fails');
  }

  @RabbitSubscribe({ queue: Q.errorAck, queueOptions: withDlx, errorBehavior: 'ack' })
  onErrorAck(): void {
    this.errorAck++;
    throw new Error('dropped');
  }

  @RabbitSubscribe({ queue: Q.malformed, queueOptions: withDlx, errorBehavior: 'requeue' })
  onMalformed(): void {
    this.malformed++;
  }

  @RabbitSubscribe({ queue: Q.nonJson, queueOptions: withDlx, allowNonJsonMessages: true })
  onNonJson(payload: unknown): void {
    this.nonJson.push(payload);
  }

  @RabbitSubscribe({ queue: Q.prefetch, prefetch: 2 })
  async onPrefetch(): Promise<void> {
    await this.prefetch.run(150);
  }

  @RabbitSubscribe({ queue: Q.bulkA, channel: 'bulk' })
  async onBulkA(): Promise<void> {
    await this.bulk.run(150);
  }

  @RabbitSubscribe({ queue: Q.bulkB, channel: 'bulk' })
  onBulkB(): void {}
}

/** The broker's view of a queue's consumers: their channel and prefetch. */
async function consumersOf(queue: string): Promise<Array<{ channel: string; prefetch: number }>> {
  const out = await rabbitmqctl('list_consumers', '-q', '--no-table-headers', 'queue_name', 'channel_pid', 'prefetch_count');
  return out
    .split('\n')
    .map((line) => line.split('\t'))
    .filter(([name]) => name === queue)
    .map(([, channel, prefetch]) => ({ channel, prefetch: Number(prefetch) }));
}

async function unacked(queue: string): Promise<number> {
  const out = await rabbitmqctl('list_queues', '-q', '--no-table-headers', 'name', 'messages_unacknowledged');
  const line = out.split('\n').find((l) => l.startsWith(`${queue}\t`));
  return Number(line?.split('\t')[1] ?? NaN);
}

describe('consuming', () => {
  let admin: BrokerAdmin;
  let app: INestApplicationContext;
  let amqp: AmqpConnection;
  let h: Handlers;
  const logger = new CapturingLogger();

  const send = (queue: string, payload: unknown, options = {}) => amqp.publish('', queue, payload, options);
  const deadCount = async (queue: string) => (await admin.messageCount(dead(queue))) ?? -1;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    const queues = Object.values(Q);
    admin.track('queue', ...queues, ...queues.map(dead));
    admin.track('exchange', exchange, dlx);
    app = await createApp(
      {
        imports: [
          RabbitMQModule.forRoot({
            uri: AMQP_URL,
            exchanges: [
              { name: exchange, type: 'topic' },
              { name: dlx, type: 'direct' },
            ],
            queues: queues.map((queue) => ({ name: dead(queue), bindings: [{ exchange: dlx, routingKey: queue }] })),
            channels: { bulk: { prefetchCount: 3 } },
          }),
        ],
        providers: [Handlers, AllowFlagGuard, TraceInterceptor, CountDeliveries],
      },
      logger,
    );
    amqp = app.get(AmqpConnection);
    h = app.get(Handlers);
  });

  afterAll(async () => {
    await app?.close();
    await admin?.close();
  });

  it('logs one start-up line per handler: Class.method -> exchange/routingKey -> queue', () => {
    const lines = logger.lines.filter((l) => l.includes(' -> '));
    expect(lines.filter((l) => l.includes(`Handlers.onSignature -> ${exchange}/sig.* -> ${Q.signature}`))).toHaveLength(1);
    expect(lines.filter((l) => l.includes(`Handlers.onParams -> `) && l.includes(Q.params))).toHaveLength(1);
    const handlerCount = Object.getOwnPropertyNames(Handlers.prototype).filter((m) => m.startsWith('on')).length;
    expect(lines.filter((l) => l.startsWith('LOG Handlers.'))).toHaveLength(handlerCount);
  });

  it('calls a handler with (payload, message, headers) by default', async () => {
    await amqp.publish(exchange, 'sig.created', { id: 7 }, { headers: { tenant: 'acme' }, messageId: 'm-7' });
    await waitFor(() => h.signature.length === 1, 'the message');
    const { payload, message, headers } = h.signature[0];
    expect(payload).toEqual({ id: 7 });
    expect(message.fields.routingKey).toBe('sig.created');
    expect(message.properties.messageId).toBe('m-7');
    expect(headers).toMatchObject({ tenant: 'acme' });
  });

  it('injects @RabbitPayload (whole and property), @RabbitHeader (one and all) and @RabbitRequest', async () => {
    await send(Q.params, { id: 42, name: 'x' }, { headers: { tenant: 'globex', trace: 't1' } });
    await waitFor(() => h.params.length === 1, 'the message');
    const [whole, id, tenant, headers, message] = h.params[0] as [unknown, unknown, unknown, Record<string, unknown>, ConsumeMessage];
    expect(whole).toEqual({ id: 42, name: 'x' });
    expect(id).toBe(42);
    expect(tenant).toBe('globex');
    expect(headers).toMatchObject({ tenant: 'globex', trace: 't1' });
    expect(message.fields.routingKey).toBe(Q.params);
    expect(JSON.parse(message.content.toString())).toEqual({ id: 42, name: 'x' });
  });

  it('applies a ValidationPipe: valid payloads arrive as the DTO, invalid ones are dead-lettered once', async () => {
    await send(Q.validation, { sku: 'A-1', qty: 2 });
    await waitFor(() => h.valid.length === 1, 'the valid message');
    expect(h.valid[0]).toBeInstanceOf(CreateOrder);
    expect(h.valid[0]).toEqual(Object.assign(new CreateOrder(), { sku: 'A-1', qty: 2 }));

    await send(Q.validation, { sku: 5, qty: 0 });
    await waitFor(async () => (await deadCount(Q.validation)) === 1, 'the invalid message dead-lettered');
    await sleep(200);
    expect(validationDeliveries).toHaveLength(2);
    expect(h.valid).toHaveLength(1);
    expect(await deadCount(Q.validation)).toBe(1);
  });

  it('applies guards: a guard returning false keeps the handler from running', async () => {
    await send(Q.guard, { allow: false });
    await send(Q.guard, { allow: true });
    await waitFor(() => h.guarded.length === 1 && guardSeen.length === 2, 'both messages through the guard');
    expect(h.guarded).toEqual([{ allow: true }]);
    expect(guardSeen.map((g) => g.type)).toEqual(['rmq', 'rmq']);
    await waitFor(async () => (await deadCount(Q.guard)) === 1, 'the refused message dead-lettered');
  });

  it('applies interceptors around the handler', async () => {
    await send(Q.interceptor, {});
    await waitFor(() => interceptorTrace.length === 3, 'the intercepted call');
    expect(interceptorTrace).toEqual(['before', 'handler', 'after']);
  });

  it('applies exception filters: the filter handles the error and the message is acked', async () => {
    await send(Q.filter, {});
    await waitFor(() => filterCaught.length === 1, 'the filter');
    expect(filterCaught).toEqual(['rmq: caught by the filter']);
    await waitFor(async () => (await unacked(Q.filter)) === 0, 'the message to be settled');
    expect(await admin.messageCount(Q.filter)).toBe(0);
    expect(await deadCount(Q.filter)).toBe(0);
    expect(amqp.getHandlerStats()['Handlers.onFiltered']).toMatchObject({ handled: 1, failed: 0 });
  });

  it('requeues on new Nack(true): the handler sees the message again, redelivered', async () => {
    await send(Q.nackRequeue, { n: 1 });
    await waitFor(() => h.nackRequeue.length === 2, 'the redelivery');
    expect(h.nackRequeue).toEqual([false, true]);
    expect(await deadCount(Q.nackRequeue)).toBe(0);
  });

  it("rejects on new Nack(): the message goes to the queue's dead-letter exchange", async () => {
    await send(Q.nackReject, { n: 1 });
    const deadMessage = await waitFor(() => admin.get(dead(Q.nackReject)), 'the dead letter');
    expect(JSON.parse(deadMessage.content.toString())).toEqual({ n: 1 });
    const death = (deadMessage.properties.headers?.['x-death'] as Array<{ reason: string; queue: string }>)[0];
    expect(death).toMatchObject({ reason: 'rejected', queue: Q.nackReject });
    expect(h.nackReject).toBe(1);
  });

  it('dead-letters by default when a handler throws, synchronously or asynchronously', async () => {
    await send(Q.throwSync, { n: 1 });
    await send(Q.throwAsync, { n: 2 });
    await waitFor(async () => (await deadCount(Q.throwSync)) === 1 && (await deadCount(Q.throwAsync)) === 1, 'both dead letters');
    expect(h.throwSync).toBe(1);
    expect(h.throwAsync).toBe(1);
  });

  it("redelivers a failed message with errorBehavior: 'requeue'", async () => {
    await send(Q.errorRequeue, { n: 1 });
    await waitFor(() => h.errorRequeue.length === 2, 'the redelivery');
    expect(h.errorRequeue).toEqual([false, true]);
    await waitFor(async () => (await unacked(Q.errorRequeue)) === 0, 'the message to be settled');
    expect(await deadCount(Q.errorRequeue)).toBe(0);
  });

  it("drops a failed message with errorBehavior: 'ack'", async () => {
    await send(Q.errorAck, { n: 1 });
    await waitFor(() => h.errorAck === 1, 'the handler');
    await waitFor(async () => (await unacked(Q.errorAck)) === 0, 'the message to be acked');
    await sleep(200);
    expect(h.errorAck).toBe(1);
    expect(await admin.messageCount(Q.errorAck)).toBe(0);
    expect(await deadCount(Q.errorAck)).toBe(0);
  });

  it('dead-letters a body that is not valid JSON once, without calling the handler (even with errorBehavior: requeue)', async () => {
    await admin.publishRaw('', Q.malformed, 'not json{', { contentType: 'application/json' });
    await waitFor(async () => (await deadCount(Q.malformed)) === 1, 'the dead letter');
    await sleep(300);
    expect(amqp.getHandlerStats()['Handlers.onMalformed'].failed).toBe(1);
    expect(h.malformed).toBe(0);
    expect(await deadCount(Q.malformed)).toBe(1);
    expect(await admin.messageCount(Q.malformed)).toBe(0);
  });

  it('hands the raw Buffer to a handler with allowNonJsonMessages', async () => {
    await admin.publishRaw('', Q.nonJson, 'not json{', { contentType: 'application/json' });
    await waitFor(() => h.nonJson.length === 1, 'the raw message');
    expect(Buffer.isBuffer(h.nonJson[0])).toBe(true);
    expect((h.nonJson[0] as Buffer).toString()).toBe('not json{');
    expect(await deadCount(Q.nonJson)).toBe(0);
  });

  it('limits a handler to its own prefetch', async () => {
    expect(await consumersOf(Q.prefetch)).toEqual([expect.objectContaining({ prefetch: 2 })]);
    for (let i = 0; i < 6; i++) await send(Q.prefetch, { i });
    await waitFor(() => h.prefetch.done === 6, 'six slow messages', 5000);
    expect(h.prefetch.max).toBe(2);
  });

  it("consumes handlers with channel: 'bulk' on one shared channel, with that channel's prefetchCount", async () => {
    const [a] = await consumersOf(Q.bulkA);
    const [b] = await consumersOf(Q.bulkB);
    expect(a.channel).toBe(b.channel);
    // RabbitMQ applies basic.qos per consumer (global QoS is deprecated and unsupported by quorum queues).
    expect([a.prefetch, b.prefetch]).toEqual([3, 3]);
    for (let i = 0; i < 5; i++) await send(Q.bulkA, { i });
    await waitFor(() => h.bulk.done === 5, 'five slow messages', 5000);
    expect(h.bulk.max).toBe(3);
  });
});

describe('consumer control', () => {
  const queue = uniqueName('consume.control');
  const connectionName = uniqueName('consume.control');

  @Injectable()
  class Controlled {
    readonly received: unknown[] = [];
    @RabbitSubscribe({ queue })
    on(payload: unknown): void {
      this.received.push(payload);
    }
  }

  let admin: BrokerAdmin;
  let app: INestApplicationContext;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('queue', queue);
    app = await createApp(
      { imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName, reconnectTimeInSeconds: 0.2 })], providers: [Controlled] },
      new CapturingLogger(),
    );
  });

  afterAll(async () => {
    await app?.close();
    await admin?.close();
  });

  it('cancels a consumer by name, keeps it cancelled across a reconnect, and resumes it', async () => {
    const amqp = app.get(AmqpConnection);
    const handler = app.get(Controlled);
    expect(await admin.consumerCount(queue)).toBe(1);

    await amqp.cancelConsumer('Controlled.on');
    expect(await admin.consumerCount(queue)).toBe(0);
    await amqp.publish('', queue, { n: 1 });

    expect(await closeConnectionsNamed(connectionName)).toBe(1);
    await waitFor(() => amqp.status === 'disconnected' || amqp.isConnected, 'the disconnect to be noticed');
    await waitFor(() => amqp.isConnected, 'the reconnect');
    // Give the consumer's channel time to be set up again, then check it did not start consuming.
    await sleep(300);
    expect(await admin.consumerCount(queue)).toBe(0);
    expect(await admin.messageCount(queue)).toBe(1);
    expect(handler.received).toEqual([]);

    await amqp.resumeConsumer('Controlled.on');
    await waitFor(() => handler.received.length === 1, 'the message after resume');
    expect(await admin.consumerCount(queue)).toBe(1);
  });

  it('rejects an unknown handler name, listing the known ones', async () => {
    await expect(app.get(AmqpConnection).cancelConsumer('Nope.nothing')).rejects.toThrow(/Controlled\.on/);
  });
});

describe('handler discovery', () => {
  const requestScopedQ = uniqueName('consume.request-scoped');
  const controllerQ = uniqueName('consume.controller');

  @Injectable({ scope: Scope.REQUEST })
  class PerRequest {
    @RabbitSubscribe({ queue: requestScopedQ })
    on(): void {}
  }

  @Controller()
  class EventsController {
    @RabbitSubscribe({ queue: controllerQ })
    on(): void {}
  }

  let admin: BrokerAdmin;
  const apps: INestApplicationContext[] = [];

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('queue', requestScopedQ, controllerQ);
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await admin?.close();
  });

  it('warns about a request-scoped provider with handlers and does not register them', async () => {
    const logger = new CapturingLogger();
    apps.push(await createApp({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL })], providers: [PerRequest] }, logger));
    const warning = logger.lines.find((l) => l.startsWith('WARN') && l.includes('PerRequest'));
    expect(warning).toBeDefined();
    expect(warning).toMatch(/request-scoped/);
    expect(warning).toMatch(/NOT registered/);
    expect(logger.lines.some((l) => l.includes('PerRequest.on ->'))).toBe(false);
    expect(await admin.queueExists(requestScopedQ)).toBe(false);
  });

  it('scans controllers only with enableControllerDiscovery', async () => {
    apps.push(await createApp({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL })], controllers: [EventsController] }, new CapturingLogger()));
    expect(await admin.queueExists(controllerQ)).toBe(false);
    apps.push(
      await createApp(
        { imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, enableControllerDiscovery: true })], controllers: [EventsController] },
        new CapturingLogger(),
      ),
    );
    expect(await admin.consumerCount(controllerQ)).toBe(1);
  });
});
