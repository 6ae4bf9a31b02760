import { Injectable, type INestApplicationContext } from '@nestjs/common';
import type { ConsumeMessage } from 'amqplib';
import {
  AmqpConnection,
  DeadLetterService,
  InvalidOptionsError,
  Nack,
  RabbitHeader,
  RabbitMQModule,
  RabbitPayload,
  RabbitRequest,
  RabbitRPC,
  RabbitSubscribe,
  type BatchItemResult,
  type ConsumeOutcome,
} from '@warren/rabbitmq';
import { bootExpectingFailure, createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, closeConnectionsNamed, uniqueName, waitFor } from './support/broker';

const exchange = uniqueName('batch.x');
const plainQueue = uniqueName('batch.plain');
const golevelupQueue = uniqueName('batch.golevelup');
const outcomesQueue = uniqueName('batch.outcomes');
const hostileQueue = uniqueName('batch.hostile');
const retryQueue = uniqueName('batch.retry');
const mismatchQueue = uniqueName('batch.mismatch');
const dedupQueue = uniqueName('batch.dedup');

interface Item {
  n: number;
  poison?: boolean;
}

@Injectable()
class BatchHandlers {
  readonly plain: Array<{ payloads: Item[]; messages: ConsumeMessage[]; tags: unknown[]; ns: unknown[] }> = [];
  readonly golevelup: Item[][] = [];
  readonly outcomes: number[] = [];
  readonly hostile: Item[][] = [];
  readonly retrySeen = new Map<number, number>();
  readonly retryDone = new Map<number, number>();
  readonly mismatchHandled = new Map<number, number>();
  readonly mismatchRefused: number[] = [];
  readonly dedupSeen: number[] = [];

  @RabbitSubscribe({ exchange, routingKey: 'plain', queue: plainQueue, batch: { size: 10, timeoutMs: 300 } })
  onPlain(
    @RabbitPayload() payloads: Item[],
    @RabbitRequest() messages: ConsumeMessage[],
    @RabbitHeader('x-tag') tags: unknown[],
    @RabbitPayload('n') ns: unknown[],
  ): void {
    this.plain.push({ payloads, messages, tags, ns });
  }

  @RabbitSubscribe({ exchange, routingKey: 'golevelup', queue: golevelupQueue, batchOptions: { size: 5, timeout: 100 } })
  onGolevelup(payloads: Item[]): void {
    this.golevelup.push(payloads);
  }

  @RabbitSubscribe({ exchange, routingKey: 'outcomes', queue: outcomesQueue, batch: { size: 6 }, deadLetter: true })
  onOutcomes(payloads: Item[]): BatchItemResult[] {
    return payloads.map((p) => {
      if (p.n % 3 === 0) return new Nack();
      if (p.n % 3 === 1) return new Error(`refused ${p.n}`);
      this.outcomes.push(p.n);
      return undefined;
    });
  }

  @RabbitSubscribe({ exchange, routingKey: 'hostile', queue: hostileQueue, batch: { size: 10, timeoutMs: 200 }, deadLetter: true })
  onHostile(payloads: Item[]): void {
    this.hostile.push(payloads);
  }

  @RabbitSubscribe({
    exchange,
    routingKey: 'retry',
    queue: retryQueue,
    batch: { size: 5, timeoutMs: 100 },
    retry: { maxAttempts: 3, backoff: { type: 'fixed', delay: 100 } },
  })
  onRetry(payloads: Item[]): void {
    const firstTime = payloads.some((p) => !this.retrySeen.has(p.n));
    for (const p of payloads) this.retrySeen.set(p.n, (this.retrySeen.get(p.n) ?? 0) + 1);
    if (firstTime) throw new Error('downstream unavailable');
    for (const p of payloads) this.retryDone.set(p.n, (this.retryDone.get(p.n) ?? 0) + 1);
  }

  @RabbitSubscribe({
    exchange,
    routingKey: 'mismatch',
    queue: mismatchQueue,
    batch: { size: 4, timeoutMs: 100 },
    retry: { maxAttempts: 3, backoff: { type: 'fixed', delay: 100 } },
  })
  onMismatch(payloads: Item[]): BatchItemResult[] | void {
    if (payloads.some((p) => p.poison)) {
      this.mismatchRefused.push(...payloads.map((p) => p.n));
      return [];
    }
    for (const p of payloads) this.mismatchHandled.set(p.n, (this.mismatchHandled.get(p.n) ?? 0) + 1);
  }

  @RabbitSubscribe({ exchange, routingKey: 'dedup', queue: dedupQueue, batch: { size: 10, timeoutMs: 200 }, dedup: {} })
  onDedup(payloads: Item[]): void {
    this.dedupSeen.push(...payloads.map((p) => p.n));
  }
}

describe('batch consume', () => {
  let app: INestApplicationContext;
  let admin: BrokerAdmin;
  let handlers: BatchHandlers;
  let amqp: AmqpConnection;
  let deadLetters: DeadLetterService;
  const outcomes: Array<{ queue: string; outcome: ConsumeOutcome }> = [];

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    const queues = [plainQueue, golevelupQueue, outcomesQueue, hostileQueue, retryQueue, mismatchQueue, dedupQueue];
    admin.track('queue', ...queues, ...queues.map((q) => `${q}.dlq`));
    admin.track('exchange', exchange);
    app = await createApp({
      imports: [
        RabbitMQModule.forRoot({
          uri: AMQP_URL,
          exchanges: [{ name: exchange, type: 'direct' }],
          telemetry: [
            {
              async onConsume(info, next) {
                const outcome = await next();
                outcomes.push({ queue: info.queue, outcome });
                return outcome;
              },
            },
          ],
        }),
      ],
      providers: [BatchHandlers],
    });
    handlers = app.get(BatchHandlers);
    amqp = app.get(AmqpConnection);
    deadLetters = app.get(DeadLetterService);
  });

  afterAll(async () => {
    await app?.close();
    await admin?.close();
  });

  const publish = (routingKey: string, items: Item[], options: (item: Item) => Record<string, unknown> = () => ({})) =>
    amqp.publishBatch(items.map((message) => ({ exchange, routingKey, message, options: options(message) })));

  it('hands full batches and flushes a partial one after its timeout, with raw messages and headers through the parameter decorators', async () => {
    const result = await publish(
      'plain',
      Array.from({ length: 23 }, (_, n) => ({ n })),
      (item) => ({ headers: { 'x-tag': `t${item.n}` } }),
    );
    expect(result.failed).toEqual([]);
    await waitFor(() => handlers.plain.reduce((sum, b) => sum + b.payloads.length, 0) === 23, '23 messages in batches');
    for (const batch of handlers.plain) {
      expect(batch.payloads.length).toBeLessThanOrEqual(10);
      expect(batch.messages).toHaveLength(batch.payloads.length);
      expect(batch.messages.map((m) => JSON.parse(m.content.toString()) as Item)).toEqual(batch.payloads);
      expect(batch.tags).toEqual(batch.payloads.map((p) => `t${p.n}`));
      expect(batch.ns).toEqual(batch.payloads.map((p) => p.n));
    }
    // At least two full batches; the 3 left over (fewer than size) arrive only through the timeout.
    expect(handlers.plain.filter((b) => b.payloads.length === 10).length).toBeGreaterThanOrEqual(2);
    const seen = handlers.plain.flatMap((b) => b.payloads.map((p) => p.n)).sort((a, b) => a - b);
    expect(seen).toEqual(Array.from({ length: 23 }, (_, n) => n));
    await waitFor(async () => (await admin.messageCount(plainQueue)) === 0, 'queue drained');
    await waitFor(() => outcomes.filter((o) => o.queue === plainQueue && o.outcome === 'acked').length === 23, 'one telemetry outcome per message');
    expect(amqp.getHandlerStats()['BatchHandlers.onPlain']).toMatchObject({ handled: 23, failed: 0 });
  });

  it("accepts golevelup's batchOptions { size, timeout }", async () => {
    await publish(
      'golevelup',
      Array.from({ length: 7 }, (_, n) => ({ n })),
    );
    await waitFor(() => handlers.golevelup.flat().length === 7, '7 messages');
    expect(handlers.golevelup.every((b) => b.length <= 5)).toBe(true);
    expect(handlers.golevelup.some((b) => b.length === 5)).toBe(true);
  });

  it('settles each message by its own entry when the handler returns an array: ack, Nack, Error', async () => {
    const items = Array.from({ length: 12 }, (_, n) => ({ n }));
    await publish('outcomes', items);
    const dlq = `${outcomesQueue}.dlq`;
    await waitFor(async () => (await deadLetters.count(dlq)) === 8, '8 dead letters (4 Nacks, 4 Errors)');
    expect(handlers.outcomes.sort((a, b) => a - b)).toEqual([2, 5, 8, 11]);
    const parked = await deadLetters.peek(dlq, { limit: 20 });
    const refused = parked.filter((d) => d.reason.errorMessage?.startsWith('refused'));
    expect(refused.map((d) => (d.payload as Item).n).sort((a, b) => a - b)).toEqual([1, 4, 7, 10]);
    expect(refused[0].reason).toMatchObject({ handler: 'BatchHandlers.onOutcomes', queue: outcomesQueue });
    expect(amqp.getHandlerStats()['BatchHandlers.onOutcomes']).toMatchObject({ handled: 4, failed: 8 });
  });

  it('dead-letters one undecodable message alone and hands the rest of its batch to the handler', async () => {
    await publish('hostile', [{ n: 1 }, { n: 2 }]);
    await admin.publishRaw(exchange, 'hostile', '{ not json', { contentType: 'application/json' });
    await publish('hostile', [{ n: 3 }, { n: 4 }]);
    await waitFor(() => handlers.hostile.flat().length === 4, 'the 4 good messages');
    const dlq = `${hostileQueue}.dlq`;
    await waitFor(async () => (await deadLetters.count(dlq)) === 1, 'the bad one dead-lettered');
    const [parked] = await deadLetters.peek(dlq);
    expect(parked.reason.errorName).toBe('MessageDeserializationError');
    expect(parked.content.toString()).toBe('{ not json');
    expect(handlers.hostile.flat().map((p) => p.n)).toEqual([1, 2, 3, 4]);
  });

  it('retries every message of a batch whose handler throws under the retry policy, each on its own', async () => {
    const items = Array.from({ length: 10 }, (_, n) => ({ n }));
    await publish('retry', items);
    await waitFor(() => handlers.retryDone.size === 10, 'all 10 handled after a retry');
    expect([...handlers.retryDone.values()].every((count) => count === 1)).toBe(true);
    expect([...handlers.retrySeen.values()].every((count) => count >= 2)).toBe(true);
    const stats = amqp.getHandlerStats()['BatchHandlers.onRetry'];
    expect(stats.retried).toBeGreaterThanOrEqual(10);
    expect(stats.handled).toBe(10);
    expect(stats.deadLettered).toBe(0);
  });

  it('fails every message of a batch whose returned array has the wrong length with InvalidBatchResultError, dead-lettered at once, and the other batches go on', async () => {
    await publish('mismatch', [{ n: 0 }, { n: 1 }]);
    await waitFor(() => handlers.mismatchHandled.size === 2, 'good batch handled');
    await publish('mismatch', [{ n: 2 }, { n: 3, poison: true }, { n: 4 }]);
    await waitFor(() => handlers.mismatchRefused.includes(3), 'poison batch seen');
    await publish('mismatch', [{ n: 5 }, { n: 6 }]);
    await waitFor(() => handlers.mismatchHandled.has(5) && handlers.mismatchHandled.has(6), 'later good batch handled');
    const refused = new Set(handlers.mismatchRefused);
    const dlq = `${mismatchQueue}.dlq`;
    await waitFor(async () => (await deadLetters.count(dlq)) === refused.size, 'the poison batch dead-lettered');
    const parked = await deadLetters.peek(dlq, { limit: 10 });
    // Permanent: no retry although the handler has a retry policy (the handler already ran for them).
    expect(parked.every((d) => d.reason.errorName === 'InvalidBatchResultError' && d.reason.attempts === 1)).toBe(true);
    expect(parked[0].reason.errorMessage).toMatch(/returned 0 outcome\(s\) for a batch of \d message\(s\)/);
    expect(parked.map((d) => (d.payload as Item).n).sort()).toEqual([...refused].sort());
    // Nothing lost, nothing twice: each message handled once or dead-lettered once, never both.
    for (let n = 0; n <= 6; n++) {
      const handled = handlers.mismatchHandled.get(n) ?? 0;
      expect(refused.has(n) ? handled : handled - 1).toBe(0);
    }
    expect(handlers.mismatchRefused).toHaveLength(refused.size);
  });

  it('drops a duplicate inside a batch (dedup applies per message)', async () => {
    await publish('dedup', [{ n: 1 }, { n: 2 }, { n: 1 }], (item) => ({ messageId: `dedup-${item.n}` }));
    await waitFor(() => amqp.getHandlerStats()['BatchHandlers.onDedup'].duplicates === 1, 'one duplicate');
    await waitFor(() => handlers.dedupSeen.length === 2, 'two handled');
    expect(handlers.dedupSeen.sort()).toEqual([1, 2]);
    await waitFor(async () => (await admin.messageCount(dedupQueue)) === 0, 'all settled');
  });
});

describe('batch consume: options and lifecycle', () => {
  let admin: BrokerAdmin;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
  });

  afterAll(async () => {
    await admin?.close();
  });

  it('refuses to start with a prefetch below the batch size, or a batch on an RPC handler, in one InvalidOptionsError saying what to do', async () => {
    const queue = uniqueName('batch.bad');
    @Injectable()
    class Bad {
      @RabbitSubscribe({ queue, batch: { size: 50 } })
      tooBig(): void {}

      @RabbitSubscribe({ queue: `${queue}.b`, batchOptions: { size: 0 }, prefetch: 5 })
      zero(): void {}

      @RabbitRPC({ queue: `${queue}.rpc`, batch: { size: 2 } })
      answer(): void {}
    }
    const error = await bootExpectingFailure({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, prefetchCount: 20 })], providers: [Bad] });
    expect(error).toBeInstanceOf(InvalidOptionsError);
    const problems = (error as InvalidOptionsError).problems.join('\n');
    expect(problems).toContain('Bad.tooBig: batch.size is 50 but prefetchCount is 20');
    expect(problems).toContain('Set prefetch: 50 (or more) on the handler, or lower batch.size');
    expect(problems).toContain('Bad.zero: batchOptions.size must be a positive integer (got 0)');
    expect(problems).toContain('Bad.answer: batch is for subscribe handlers; an RPC handler answers each request on its own. Remove batch');
    expect(await admin.queueExists(queue)).toBe(false);
  });

  it('finishes a partial batch at shutdown: handled once, nothing given back to run again', async () => {
    const queue = uniqueName('batch.shutdown');
    admin.track('queue', queue);
    const seen: number[][] = [];
    @Injectable()
    class Slow {
      @RabbitSubscribe({ queue, batch: { size: 10, timeoutMs: 60_000 } })
      handle(payloads: Item[]): void {
        seen.push(payloads.map((p) => p.n));
      }
    }
    const app = await createApp({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL })], providers: [Slow] });
    const amqp = app.get(AmqpConnection);
    for (let n = 0; n < 3; n++) await amqp.publish('', queue, { n });
    // All three delivered (none ready), held in the partial batch: the timeout is a minute away.
    await waitFor(async () => (await admin.messageCount(queue)) === 0, 'three delivered');
    expect(seen).toEqual([]);
    await app.close();
    expect(seen).toEqual([[0, 1, 2]]);
    expect(await admin.messageCount(queue)).toBe(0);
  });

  it('hands a partial batch over at once on cancelConsumer(), and takes no more until resumed', async () => {
    const queue = uniqueName('batch.cancel');
    admin.track('queue', queue);
    const seen: number[][] = [];
    @Injectable()
    class Paused {
      @RabbitSubscribe({ name: 'paused', queue, batch: { size: 10, timeoutMs: 60_000 } })
      handle(payloads: Item[]): void {
        seen.push(payloads.map((p) => p.n));
      }
    }
    const app = await createApp({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL })], providers: [Paused] });
    try {
      const amqp = app.get(AmqpConnection);
      for (let n = 0; n < 2; n++) await amqp.publish('', queue, { n });
      await waitFor(async () => (await admin.messageCount(queue)) === 0, 'two delivered and held');
      await amqp.cancelConsumer('paused');
      await waitFor(() => seen.length === 1, 'the partial batch handled');
      expect(seen).toEqual([[0, 1]]);
      await amqp.publish('', queue, { n: 2 });
      await waitFor(async () => (await admin.messageCount(queue)) === 1, 'a later message waits in the queue');
      await amqp.resumeConsumer('paused');
      await waitFor(async () => (await admin.messageCount(queue)) === 0, 'delivered after resume');
    } finally {
      await app.close();
    }
    expect(seen).toEqual([[0, 1], [2]]);
  });

  it('drops a partial batch whose channel closed and handles the redelivered messages once', async () => {
    const queue = uniqueName('batch.reconnect');
    const connectionName = uniqueName('batch-conn');
    admin.track('queue', queue);
    const seen: number[] = [];
    @Injectable()
    class Held {
      @RabbitSubscribe({ queue, batch: { size: 5, timeoutMs: 1500 } })
      handle(payloads: Item[]): void {
        seen.push(...payloads.map((p) => p.n));
      }
    }
    const app = await createApp({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName })], providers: [Held] });
    try {
      const amqp = app.get(AmqpConnection);
      for (let n = 0; n < 3; n++) await amqp.publish('', queue, { n });
      await waitFor(async () => (await admin.messageCount(queue)) === 0, 'three delivered and held');
      expect(await closeConnectionsNamed(connectionName)).toBeGreaterThan(0);
      await waitFor(() => seen.length >= 3, 'the three handled after the reconnect', 20_000);
      // A later message, handled after the dropped batch's timeout would have fired: none of the three ran again.
      await amqp.publish('', queue, { n: 99 });
      await waitFor(() => seen.includes(99), 'a later message handled');
      expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 99]);
      await waitFor(async () => (await admin.messageCount(queue)) === 0, 'settled');
    } finally {
      await app.close();
    }
  });
});
