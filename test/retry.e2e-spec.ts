import { Injectable, ValidationPipe, type INestApplicationContext } from '@nestjs/common';
import { IsInt, IsString, Min } from 'class-validator';
import {
  AmqpConnection,
  DEAD_LETTER_HEADERS,
  InvalidOptionsError,
  NonRetryableError,
  RabbitMQModule,
  RabbitPayload,
  RabbitSubscribe,
  WARREN_HEADERS,
} from '@warren/rabbitmq';

class OrderDto {
  @IsString()
  id!: string;

  @IsInt()
  @Min(1)
  quantity!: number;
}
import { createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, uniqueName, waitFor } from './support/broker';

const exchange = uniqueName('retry.x');
const flakyQueue = uniqueName('retry.flaky');
const alwaysQueue = uniqueName('retry.always');
const fatalQueue = uniqueName('retry.fatal');
const siblingQueue = uniqueName('retry.sibling');
const levelsQueue = uniqueName('retry.levels');
const quorumQueue = uniqueName('retry.quorum');
const immediateQueue = uniqueName('retry.immediate');
const validatedQueue = uniqueName('retry.validated');

@Injectable()
class RetryHandlers {
  readonly flakyAt: number[] = [];
  readonly flakyAttempts: unknown[] = [];
  always = 0;
  fatal = 0;
  sibling = 0;
  readonly levels: Array<{ id: string; at: number }> = [];
  quorumCalls = 0;
  immediateCalls = 0;
  readonly validated: OrderDto[] = [];

  @RabbitSubscribe({ exchange, routingKey: 'validated', queue: validatedQueue, retry: { maxAttempts: 5, backoff: { type: 'fixed', delay: 100 } } })
  onValidated(@RabbitPayload(new ValidationPipe({ transform: true })) order: OrderDto): void {
    this.validated.push(order);
  }

  @RabbitSubscribe({
    exchange,
    routingKey: 'quorum',
    queue: quorumQueue,
    queueOptions: { type: 'quorum' },
    retry: { maxAttempts: 3, backoff: { type: 'fixed', delay: 100 } },
  })
  onQuorum(): void {
    if (++this.quorumCalls < 3) throw new Error('quorum transient');
  }

  @RabbitSubscribe({
    exchange,
    routingKey: 'immediate',
    queue: immediateQueue,
    retry: { maxAttempts: 2, immediateRetries: 2, backoff: { type: 'fixed', delay: 100 } },
  })
  onImmediate(): void {
    this.immediateCalls++;
    throw new Error('never works');
  }

  @RabbitSubscribe({
    exchange,
    routingKey: 'flaky',
    queue: flakyQueue,
    retry: { maxAttempts: 5, backoff: { type: 'list', delays: [200, 400] } },
  })
  onFlaky(_payload: unknown, _message: unknown, headers: Record<string, unknown>): void {
    this.flakyAt.push(Date.now());
    this.flakyAttempts.push(headers[WARREN_HEADERS.attempt]);
    if (this.flakyAt.length < 3) throw new Error(`transient failure ${this.flakyAt.length}`);
  }

  @RabbitSubscribe({
    exchange,
    routingKey: ['always', 'shared'],
    queue: alwaysQueue,
    retry: { maxAttempts: 3, backoff: { type: 'fixed', delay: 100 } },
  })
  onAlways(): void {
    this.always++;
    throw new TypeError('always broken');
  }

  @RabbitSubscribe({ exchange, routingKey: 'shared', queue: siblingQueue })
  onSibling(): void {
    this.sibling++;
  }

  @RabbitSubscribe({
    exchange,
    routingKey: 'fatal',
    queue: fatalQueue,
    retry: { maxAttempts: 5, backoff: { type: 'fixed', delay: 100 } },
  })
  onFatal(): void {
    this.fatal++;
    throw new NonRetryableError('card declined');
  }

  @RabbitSubscribe({
    exchange,
    routingKey: 'levels',
    queue: levelsQueue,
    retry: { maxAttempts: 2, backoff: { type: 'list', delays: [3000] } },
  })
  onLevels(payload: { id: string; delay: number }, _m: unknown, headers: Record<string, unknown>): void {
    if (headers[WARREN_HEADERS.attempt] === undefined) throw new Error('first attempt fails');
    this.levels.push({ id: payload.id, at: Date.now() });
  }
}

describe('delayed retry with backoff', () => {
  let app: INestApplicationContext;
  let admin: BrokerAdmin;
  let handlers: RetryHandlers;
  let amqp: AmqpConnection;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('queue', flakyQueue, alwaysQueue, fatalQueue, siblingQueue, levelsQueue, quorumQueue, immediateQueue, validatedQueue);
    admin.track('queue', ...[flakyQueue, alwaysQueue, fatalQueue, levelsQueue, quorumQueue, immediateQueue, validatedQueue].map((q) => `${q}.dlq`));
    admin.track('exchange', exchange);
    app = await createApp({
      imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, exchanges: [{ name: exchange, type: 'topic' }] })],
      providers: [RetryHandlers],
    });
    handlers = app.get(RetryHandlers);
    amqp = app.get(AmqpConnection);
  });

  afterAll(async () => {
    await app?.close();
    await admin?.close();
  });

  it('retries a message that fails twice, with the configured delays, and handles it on the third attempt', async () => {
    await amqp.publish(exchange, 'flaky', { n: 1 });
    await waitFor(() => handlers.flakyAt.length === 3, 'three attempts');
    const [first, second, third] = handlers.flakyAt;
    expect(second - first).toBeGreaterThanOrEqual(180);
    expect(second - first).toBeLessThan(1500);
    expect(third - second).toBeGreaterThanOrEqual(380);
    expect(third - second).toBeLessThan(1700);
    expect(handlers.flakyAttempts).toEqual([undefined, 2, 3]);
    expect(amqp.getHandlerStats()['RetryHandlers.onFlaky']).toMatchObject({ handled: 1, failed: 2, retried: 2, deadLettered: 0 });
    expect(await admin.messageCount(`${flakyQueue}.dlq`)).toBe(0);
  });

  it('dead-letters a message after maxAttempts with every reason header, and retries only the failing queue', async () => {
    await amqp.publish(exchange, 'shared', { n: 2 }, { messageId: 'always-1' });
    await waitFor(async () => (await admin.messageCount(`${alwaysQueue}.dlq`)) === 1, 'the dead letter');
    expect(handlers.always).toBe(3);
    // The sibling queue bound to the same key got the original once and none of the retries.
    expect(handlers.sibling).toBe(1);
    const dead = await admin.get(`${alwaysQueue}.dlq`);
    if (!dead) throw new Error('no dead letter');
    const headers = dead.properties.headers as Record<string, unknown>;
    expect(headers[DEAD_LETTER_HEADERS.errorName]).toBe('TypeError');
    expect(headers[DEAD_LETTER_HEADERS.errorMessage]).toBe('always broken');
    expect(String(headers[DEAD_LETTER_HEADERS.errorStack])).toContain('TypeError: always broken');
    expect(headers[DEAD_LETTER_HEADERS.handler]).toBe('RetryHandlers.onAlways');
    expect(headers[DEAD_LETTER_HEADERS.attempts]).toBe(3);
    expect(Date.parse(String(headers[DEAD_LETTER_HEADERS.firstFailureAt]))).toBeLessThanOrEqual(Date.parse(String(headers[DEAD_LETTER_HEADERS.lastFailureAt])));
    expect(headers[WARREN_HEADERS.originalExchange]).toBe(exchange);
    expect(headers[WARREN_HEADERS.originalRoutingKey]).toBe('shared');
    expect(headers[WARREN_HEADERS.originalQueue]).toBe(alwaysQueue);
    expect(dead.properties.messageId).toBe('always-1');
    expect(JSON.parse(dead.content.toString())).toEqual({ n: 2 });
  });

  it('sends a NonRetryableError straight to the dead-letter queue', async () => {
    await amqp.publish(exchange, 'fatal', { n: 3 });
    await waitFor(async () => (await admin.messageCount(`${fatalQueue}.dlq`)) === 1, 'the dead letter');
    expect(handlers.fatal).toBe(1);
  });

  it('dead-letters a malformed body once, without retries', async () => {
    const before = handlers.flakyAt.length;
    await admin.publishRaw(exchange, 'flaky', 'not json{', { contentType: 'application/json' });
    await waitFor(async () => (await admin.messageCount(`${flakyQueue}.dlq`)) === 1, 'the dead letter');
    const dead = await admin.get(`${flakyQueue}.dlq`);
    expect(dead && (dead.properties.headers as Record<string, unknown>)[DEAD_LETTER_HEADERS.errorName]).toBe('MessageDeserializationError');
    expect(handlers.flakyAt.length).toBe(before);
  });

  it('retries on quorum queues through replicated wait queues', async () => {
    await amqp.publish(exchange, 'quorum', { q: 1 });
    await waitFor(() => amqp.getHandlerStats()['RetryHandlers.onQuorum']?.handled === 1, 'the quorum message handled');
    expect(handlers.quorumCalls).toBe(3);
    expect(await admin.queueExists('warren.retry.wait.quorum.100')).toBe(true);
  });

  it('runs immediate in-process retries before each delayed one', async () => {
    await amqp.publish(exchange, 'immediate', { i: 1 });
    await waitFor(() => amqp.getHandlerStats()['RetryHandlers.onImmediate']?.deadLettered === 1, 'the dead letter');
    // 2 deliveries x (1 call + 2 immediate retries)
    expect(handlers.immediateCalls).toBe(6);
    expect(amqp.getHandlerStats()['RetryHandlers.onImmediate']).toMatchObject({ retried: 1, deadLettered: 1 });
  });

  it('dead-letters a payload that fails validation at once, with the validation errors as the reason', async () => {
    await amqp.publish(exchange, 'validated', { id: 'ok', quantity: 2 });
    await amqp.publish(exchange, 'validated', { id: 7, quantity: 0 });
    await waitFor(() => amqp.getHandlerStats()['RetryHandlers.onValidated']?.deadLettered === 1, 'the invalid payload dead-lettered');
    expect(handlers.validated).toHaveLength(1);
    expect(handlers.validated[0]).toBeInstanceOf(OrderDto);
    expect(amqp.getHandlerStats()['RetryHandlers.onValidated'].retried).toBe(0);
    const dead = await admin.get(`${validatedQueue}.dlq`);
    const headers = (dead && dead.properties.headers) as Record<string, unknown>;
    expect(headers[DEAD_LETTER_HEADERS.errorName]).toBe('BadRequestException');
    expect(String(headers[DEAD_LETTER_HEADERS.errorMessage])).toContain('quantity must not be less than 1');
    expect(String(headers[DEAD_LETTER_HEADERS.errorMessage])).toContain('id must be a string');
  });

  it('does not let a long wait block a short one (one wait queue per delay level)', async () => {
    // 'slow' waits 3 s in its level; a message for the flaky handler waits 200 ms in another level.
    const flakyBefore = handlers.flakyAt.length;
    await amqp.publish(exchange, 'levels', { id: 'slow' });
    await amqp.publish(exchange, 'flaky', { n: 4 });
    await waitFor(() => handlers.flakyAt.length > flakyBefore, 'the flaky message');
    await waitFor(() => handlers.levels.length === 1, 'the slow retry', 8000);
    expect(handlers.levels[0].at - handlers.flakyAt[flakyBefore]).toBeGreaterThan(1500);
  });
});

describe('retry options that cannot work', () => {
  it('fail at start-up with every problem listed', async () => {
    @Injectable()
    class Bad {
      @RabbitSubscribe({ exchange: 'x', routingKey: 'a', queue: uniqueName('bad'), retry: { maxAttempts: 0 } })
      a(): void {}

      @RabbitSubscribe({ exchange: 'x', routingKey: 'b', queue: uniqueName('bad'), retry: { backoff: { type: 'fixed', delay: 2 ** 33 } } })
      b(): void {}

      @RabbitSubscribe({ exchange: 'x', routingKey: 'c', retry: { maxAttempts: 2 } })
      c(): void {}
    }
    const error = await createApp({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL })], providers: [Bad] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionsError);
    const problems = (error as InvalidOptionsError).problems.join('\n');
    expect(problems).toContain('Bad.a');
    expect(problems).toContain('maxAttempts');
    expect(problems).toContain('Bad.b');
    expect(problems).toContain('4294967295');
    expect(problems).toContain('Bad.c: retry needs a named queue');
  });
});
