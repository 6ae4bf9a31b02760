import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { AmqpConnection, DeadLetterService, JsonSerializer, RabbitMQModule, RabbitSubscribe, type Serializer } from '@warren/rabbitmq';
import { BrokerAdmin } from '../support/broker';
import { TotalQueueChecker } from './support/checker';
import { faultUrl } from './support/fault-env';
import { recordFigures, since } from './support/figures';
import { bootApp, currentTest, faultName, resetLogger } from './support/harness';
import { until } from './support/stream';

const GOOD = 10_000;
const MALFORMED = 1_000;
const FAILING = 1_000;
const MAX_ATTEMPTS = 3;

/** Counts every delivery the dispatcher reads, by the id in the body, even when the body is not valid JSON. */
class CountingSerializer implements Serializer {
  readonly contentType = 'application/json';
  readonly reads = new Map<string, number>();
  private readonly json = new JsonSerializer();

  serialize(value: unknown): Buffer {
    return this.json.serialize(value);
  }

  deserialize(body: Buffer, contentType: string | undefined): unknown {
    const id = /"id":"([^"]+)"/.exec(body.toString('utf8', 0, 64))?.[1];
    if (id !== undefined) this.reads.set(id, (this.reads.get(id) ?? 0) + 1);
    return this.json.deserialize(body, contentType);
  }
}

describe('fault 4: a poison storm', () => {
  const exchange = faultName('poison.x');
  const queue = faultName('poison.q');
  let admin: BrokerAdmin;
  let app: INestApplicationContext | undefined;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange);
    admin.track('queue', queue, `${queue}.dlq`);
  });

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await admin.close();
    resetLogger();
  });

  it(`processes ${GOOD} good messages once and dead-letters ${MALFORMED} malformed and ${FAILING} failing ones with their reasons, none delivered more than maxAttempts times`, async () => {
    const started = Date.now();
    const checker = new TotalQueueChecker();
    const serializer = new CountingSerializer();
    const runs = new Map<string, number>();

    @Injectable()
    class Storm {
      @RabbitSubscribe({
        exchange,
        routingKey: queue,
        queue,
        prefetch: 50,
        serializer,
        retry: { maxAttempts: MAX_ATTEMPTS, backoff: { type: 'fixed', delay: 200 } },
      })
      handle(payload: { id: string; fail?: boolean }): void {
        runs.set(payload.id, (runs.get(payload.id) ?? 0) + 1);
        if (payload.fail) throw new Error(`always fails (${payload.id})`);
        checker.delivered(payload.id);
        checker.sideEffect(payload.id);
        checker.processed(payload.id);
      }
    }

    const booted = await bootApp(
      {
        imports: [RabbitMQModule.forRoot({ uri: faultUrl(), connectionName: faultName('poison-app'), exchanges: [{ name: exchange, type: 'direct' }] })],
        providers: [Storm],
      },
      'fault-4',
    );
    app = booted.app;
    const amqp = app.get(AmqpConnection);

    // Interleave: every 12th message is malformed, every 12th (offset 6) always fails.
    const messages: Array<{ id: string; kind: 'good' | 'malformed' | 'failing' }> = [];
    let good = 0;
    let malformed = 0;
    let failing = 0;
    for (let i = 0; messages.length < GOOD + MALFORMED + FAILING; i++) {
      if (i % 12 === 0 && malformed < MALFORMED) messages.push({ id: `m-${malformed++}`, kind: 'malformed' });
      else if (i % 12 === 6 && failing < FAILING) messages.push({ id: `f-${failing++}`, kind: 'failing' });
      else if (good < GOOD) messages.push({ id: `g-${good++}`, kind: 'good' });
    }
    const results = await amqp.publishBatch(
      messages.map(({ id, kind }) => ({
        exchange,
        routingKey: queue,
        // A truncated JSON body that still names its id (the counting serializer reads it).
        message: kind === 'malformed' ? Buffer.from(`{"id":"${id}","half":`) : kind === 'failing' ? { id, fail: true } : { id },
        options: { messageId: id },
      })),
    );
    for (const { id, kind } of messages) if (kind === 'good') checker.attempt(id);
    const failedIndexes = new Set(results.failed.map((f) => f.index));
    messages.forEach(({ id, kind }, index) => {
      if (kind === 'good' && !failedIndexes.has(index)) checker.confirmed(id);
    });

    const dlq = `${queue}.dlq`;
    const parked = await until(async () => (await admin.messageCount(dlq)) === MALFORMED + FAILING && checker.processedCount === GOOD, 60_000, 200);
    await until(async () => (await admin.messageCount(queue)) === 0, 10_000);
    const deadLetters = await app.get(DeadLetterService).peek(dlq, { limit: MALFORMED + FAILING + 10 });
    const figures = checker.report();

    const bad = messages.filter((m) => m.kind !== 'good');
    const byId = new Map(deadLetters.map((d) => [d.messageId, d]));
    const missingFromDlq = bad.filter((m) => !byId.has(m.id)).map((m) => m.id);
    const wrongReason = bad.filter((m) => {
      const reason = byId.get(m.id)?.reason;
      if (!reason) return false;
      return m.kind === 'malformed'
        ? !(reason.errorName === 'MessageDeserializationError' && reason.attempts === 1)
        : !(reason.errorMessage.startsWith('always fails') && reason.attempts === MAX_ATTEMPTS);
    });
    const maxDeliveries = Math.max(...[...serializer.reads.values()]);
    const overDelivered = [...serializer.reads.entries()].filter(([, n]) => n > MAX_ATTEMPTS).map(([id]) => id);
    const failingRuns = messages.filter((m) => m.kind === 'failing').map((m) => runs.get(m.id) ?? 0);
    const malformedReads = messages.filter((m) => m.kind === 'malformed').map((m) => serializer.reads.get(m.id) ?? 0);
    const goodOnce = messages.filter((m) => m.kind === 'good').every((m) => runs.get(m.id) === 1);
    const stats = amqp.getHandlerStats()['Storm.handle'];

    recordFigures({
      id: '4',
      scenario: 'poison storm (1k malformed + 1k failing in 10k good)',
      test: currentTest(),
      figures: { ...figures, lost: figures.lost + missingFromDlq.length, inFlightAtFault: messages.length },
      durationMs: since(started),
      notes:
        `${messages.length} published in one batch; ${deadLetters.length} dead-lettered (${wrongReason.length} with a wrong reason or attempt count); ` +
        `deliveries per id: max ${maxDeliveries} (maxAttempts ${MAX_ATTEMPTS}), malformed ${Math.min(...malformedReads)}–${Math.max(...malformedReads)}, ` +
        `failing ${Math.min(...failingRuns)}–${Math.max(...failingRuns)}; stats handled ${stats.handled}, retried ${stats.retried}, dead-lettered ${stats.deadLettered}`,
    });

    expect(parked).toBe(true);
    expect(results.failed).toEqual([]);
    expect(figures.lost).toBe(0);
    expect(figures.unexpected).toBe(0);
    expect(goodOnce).toBe(true);
    expect(missingFromDlq).toEqual([]);
    expect(wrongReason.map((m) => m.id)).toEqual([]);
    expect(overDelivered).toEqual([]);
    expect(new Set(malformedReads)).toEqual(new Set([1]));
    expect(new Set(failingRuns)).toEqual(new Set([MAX_ATTEMPTS]));
  });
});
