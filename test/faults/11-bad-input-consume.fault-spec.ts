import type { INestApplicationContext } from '@nestjs/common';
import {
  DEAD_LETTER_HEADERS,
  DeadLetterService,
  JsonSerializer,
  WARREN_HEADERS,
  type DeadLetter,
  type ReplayResult,
  type Serializer,
  type WarrenTelemetry,
} from '@warren/rabbitmq';
import { BrokerAdmin } from '../support/broker';
import {
  bootGoodApp,
  BAD_INPUT_RECORDER,
  describeChurn,
  describeOutcome,
  errorText,
  goodTrafficAround,
  observe,
  recordBadInput,
  Requirements,
  SETTLE_WITHIN_MS,
  type GoodApp,
  type GoodAppOptions,
  type Outcome,
} from './support/bad-input';
import { currentTest, faultName, resetLogger } from './support/harness';
import { since } from './support/figures';
import { until } from './support/stream';

/** Prefetch of the handler: more bad deliveries than this would stall a consumer that leaks them. */
const PREFETCH = 10;
/** Bad deliveries per row: more than the prefetch. */
const BAD_COUNT = PREFETCH + 5;
/** Where in the 1,000 good messages the bad ones go: spread over the middle. */
const BAD_AT = Array.from({ length: BAD_COUNT }, (_, k) => 300 + k * 25);

/** A serializer whose deserialize throws a non-Error value for bodies starting with '!'. */
class ThrowingSerializer implements Serializer {
  readonly contentType = 'application/json';
  private readonly json = new JsonSerializer();

  serialize(value: unknown): Buffer {
    return this.json.serialize(value);
  }

  deserialize(body: Buffer, contentType: string | undefined): unknown {
    // A plain string, as some parsers throw: the reason must still reach the dead letter.
    if (body[0] === 0x21) throw `unreadable body '${body.toString('utf8', 0, 24)}'`;
    return this.json.deserialize(body, contentType);
  }
}

/** Telemetry whose consume hook throws (or rejects) for messages whose id starts with 'bad-'. */
function throwingConsumeTelemetry(how: 'throws' | 'rejects'): WarrenTelemetry {
  return {
    onConsume: (info, next) => {
      if (!info.messageId?.startsWith('bad-')) return next();
      const error = new Error(`telemetry tracer failed on ${info.messageId}`);
      if (how === 'throws') throw error;
      return Promise.reject(error);
    },
  };
}

interface HookCase {
  id: string;
  scenario: string;
  app: () => Partial<GoodAppOptions>;
  /** The bad message's body (its id is `bad-<row>-<k>`). */
  body: (badId: string) => unknown;
  /** Text the dead letter's reason must contain. */
  reason: RegExp;
  /** A bad delivery may also be processed normally (a telemetry failure need not fail the message). */
  mayProcess?: boolean;
}

describe('bad input: messages whose user hooks throw, a replay without a messageId, a handler that never settles, a deleted queue', () => {
  const exchange = faultName('badin.con.x');
  let admin: BrokerAdmin;
  const apps: INestApplicationContext[] = [];

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange);
  });

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    await admin.close();
    resetLogger();
  });

  async function boot(options: Omit<GoodAppOptions, 'exchange'>): Promise<GoodApp> {
    const good = await bootGoodApp(admin, { exchange, ...options });
    apps.push(good.app);
    return good;
  }

  async function close(app: INestApplicationContext): Promise<void> {
    apps.splice(apps.indexOf(app), 1);
    await app.close().catch(() => undefined);
  }

  it('3: DeadLetterService.replay() of a dead letter without messageId whose queue is gone, among 1,000 replayable ones — kept in the DLQ with the reason, the others replayed once', async () => {
    const started = Date.now();
    const good = await boot({ tag: 'replay' });
    const dlq = faultName('badin.replay.dlq');
    const gone = faultName('badin.gone.q');
    admin.track('queue', dlq, gone);
    await admin.raw(async (ch) => {
      await ch.assertQueue(dlq, { durable: true });
      await ch.assertQueue(gone, { durable: false });
      await ch.deleteQueue(gone);
    });
    // 1,000 dead letters of the recording handler's queue, with the bad one in the middle.
    const REPLAYABLE = 1_000;
    const deadLetterHeaders = (queue: string): Record<string, unknown> => ({
      [DEAD_LETTER_HEADERS.errorName]: 'Error',
      [DEAD_LETTER_HEADERS.errorMessage]: 'failed once',
      [DEAD_LETTER_HEADERS.attempts]: 1,
      [WARREN_HEADERS.originalExchange]: exchange,
      [WARREN_HEADERS.originalRoutingKey]: queue,
      [WARREN_HEADERS.originalQueue]: queue,
    });
    const replayIds = Array.from({ length: REPLAYABLE }, (_, i) => `3r-${i}`);
    await admin.raw(async (ch) => {
      replayIds.forEach((id, i) => {
        if (i === REPLAYABLE / 2) {
          ch.sendToQueue(dlq, Buffer.from(JSON.stringify({ id: 'bad-3' })), {
            contentType: 'application/json',
            persistent: true,
            headers: deadLetterHeaders(gone),
          });
        }
        ch.sendToQueue(dlq, Buffer.from(JSON.stringify({ id })), {
          messageId: id,
          contentType: 'application/json',
          persistent: true,
          headers: deadLetterHeaders(good.queue),
        });
      });
    });
    await until(async () => (await admin.messageCount(dlq)) === REPLAYABLE + 1, 5_000);
    // Sitting in the DLQ counts as confirmed: from here they may not be lost.
    for (const id of replayIds) {
      good.checker.attempt(id);
      good.checker.confirmed(id);
    }

    let replay: ReturnType<typeof observe> | undefined;
    const result = await goodTrafficAround(admin, good, {
      prefix: '3-',
      inject: () => {
        replay = observe(() => good.app.get(DeadLetterService).replay(dlq));
      },
      done: () => replay !== undefined && replay.outcome.kind !== 'pending',
      deadlineMs: 30_000,
    });
    const outcome: Outcome = replay?.outcome ?? { kind: 'pending' };
    const replayed = outcome.value as ReplayResult | undefined;
    const left = await good.app.get(DeadLetterService).peek(dlq, { limit: 20 });
    const badLeft = left.filter((d) => (d.payload as { id?: string } | undefined)?.id === 'bad-3');
    const replayDuplicates = replayIds.filter((id) => good.checker.deliveriesOf(id) > 1).length;
    const badHandled = good.bad.deliveriesOf('bad-3');

    const v = new Requirements();
    v.check(outcome.kind === 'resolved', `replay: expected a result, got ${describeOutcome(outcome)}: ${errorText(outcome.error)}`);
    v.check(replayed?.replayed === REPLAYABLE, `replay: expected replayed ${REPLAYABLE}, got ${String(replayed?.replayed)}`);
    v.check(replayed?.kept === 1, `replay: expected kept 1 (the one without messageId whose queue is gone), got ${String(replayed?.kept)}`);
    v.check(
      replayed?.failed.length === 1 && replayed.failed[0].messageId === undefined,
      `replay: expected one failure, for the message without id; got ${JSON.stringify(replayed?.failed)}`,
    );
    v.check(
      replayed?.failed.length === 1 && replayed.failed[0].error.includes(gone),
      `replay: the failure's reason should name the missing queue '${gone}'; got ${JSON.stringify(replayed?.failed[0]?.error)}`,
    );
    v.check(
      badLeft.length === 1 && left.length === 1,
      `DLQ: expected exactly the bad one left, found ${left.length} message(s), ${badLeft.length} of them the bad one`,
    );
    v.check(badHandled === 0, `the bad one was delivered to a handler ${badHandled}×`);
    v.check(replayDuplicates === 0, `replayed dead letters handled more than once: ${replayDuplicates}`);
    v.goodUnharmed(result);
    recordBadInput({
      id: '3',
      scenario: 'replay() of a dead letter without messageId whose queue is gone',
      test: currentTest(),
      started,
      outcome: replayed
        ? `replayed ${replayed.replayed}, kept ${replayed.kept}; bad one ${badLeft.length ? 'still in the DLQ' : 'GONE from the DLQ'}`
        : describeOutcome(outcome),
      settleMs: outcome.ms,
      result,
      good: { sent: result.sent + REPLAYABLE, answered: result.figures.confirmed },
      requirements: v,
      notes: `replay of ${REPLAYABLE + 1} took ${outcome.ms ?? '-'} ms; failures reported: ${JSON.stringify(replayed?.failed ?? [])}; ${left.length} left in the DLQ`,
    });
    await close(good.app);
    expect(v.failed).toEqual([]);
  });

  const hookCases: HookCase[] = [
    {
      id: '4a',
      scenario: 'dedup key() throws on a null body',
      app: () => ({
        handler: {
          deadLetter: true,
          prefetch: PREFETCH,
          dedup: {
            key: (message) => {
              if (message.payload === null) throw new Error(`no dedup key: the body of ${String(message.properties.messageId)} is null`);
              return message.properties.messageId as string | undefined;
            },
          },
        },
      }),
      body: () => null,
      reason: /no dedup key: the body of bad-4a-\d+ is null/,
    },
    {
      id: '4b',
      scenario: "handler serializer's deserialize throws a non-Error",
      app: () => ({ handler: { deadLetter: true, prefetch: PREFETCH, serializer: new ThrowingSerializer() } }),
      body: (badId) => Buffer.from(`!${badId}`),
      reason: /unreadable body '!bad-4b-\d+/,
    },
    {
      id: '4c',
      scenario: 'telemetry onConsume throws synchronously',
      app: () => ({ handler: { deadLetter: true, prefetch: PREFETCH }, module: { telemetry: [throwingConsumeTelemetry('throws')] } }),
      body: (badId) => ({ id: badId }),
      reason: /telemetry tracer failed on bad-4c-\d+/,
      mayProcess: true,
    },
    {
      id: '4d',
      scenario: 'telemetry onConsume returns a rejected promise',
      app: () => ({ handler: { deadLetter: true, prefetch: PREFETCH }, module: { telemetry: [throwingConsumeTelemetry('rejects')] } }),
      body: (badId) => ({ id: badId }),
      reason: /telemetry tracer failed on bad-4d-\d+/,
      mayProcess: true,
    },
  ];

  for (const c of hookCases) {
    it(`${c.id}: ${c.scenario}, ${BAD_COUNT} such messages (prefetch ${PREFETCH}) among 1,000 good — each settled with the hook's error as reason, the consumer keeps going`, async () => {
      const started = Date.now();
      const good = await boot({ tag: `hook${c.id}`, ...c.app() });
      const dlq = `${good.queue}.dlq`;
      const badIds = BAD_AT.map((_, k) => `bad-${c.id}-${k}`);
      const publishes: Array<ReturnType<typeof observe>> = [];
      let lastBadSentAt = 0;
      let allSettledAt: number | undefined;
      const settledCount = async (): Promise<number> => {
        const processed = c.mayProcess ? badIds.filter((id) => good.bad.wasProcessed(id)).length : 0;
        return processed + ((await admin.messageCount(dlq)) ?? 0);
      };
      const result = await goodTrafficAround(admin, good, {
        prefix: `${c.id}-`,
        injectAt: BAD_AT,
        inject: (k) => {
          const badId = badIds[k];
          lastBadSentAt = Date.now();
          publishes.push(observe(() => good.amqp.publish(good.exchange, good.queue, c.body(badId), { messageId: badId })));
        },
        done: async () => {
          if (publishes.length < BAD_COUNT || (await settledCount()) < BAD_COUNT) return false;
          allSettledAt ??= Date.now();
          return true;
        },
      });
      const deadLetters = await good.app.get(DeadLetterService).peek(dlq, { limit: BAD_COUNT + 5 });
      const byId = new Map<string | undefined, DeadLetter>(deadLetters.map((d) => [d.messageId, d]));
      const unsettled: string[] = [];
      const wrongReason: string[] = [];
      const overDelivered = badIds.filter((id) => good.bad.deliveriesOf(id) > 1);
      for (const id of badIds) {
        const dead = byId.get(id);
        if (dead === undefined) {
          if (!(c.mayProcess && good.bad.wasProcessed(id))) unsettled.push(id);
          continue;
        }
        const hasWarrenReason = dead.headers[DEAD_LETTER_HEADERS.errorName] !== undefined;
        if (!hasWarrenReason || !c.reason.test(dead.reason.errorMessage))
          wrongReason.push(`${id}: ${dead.reason.errorName}: ${errorText(dead.reason.errorMessage, 100)}`);
      }
      const badPublishFailures = publishes.filter((p) => p.outcome.kind !== 'resolved').map((p) => describeOutcome(p.outcome));
      const settleMs = allSettledAt === undefined ? undefined : allSettledAt - lastBadSentAt;
      const stats = good.amqp.getHandlerStats()[BAD_INPUT_RECORDER];

      const v = new Requirements();
      v.check(badPublishFailures.length === 0, `the bad messages' publishes failed: ${badPublishFailures.join(', ')}`);
      v.check(
        unsettled.length === 0,
        `${unsettled.length} of ${BAD_COUNT} bad deliveries never settled (neither dead-lettered${c.mayProcess ? ' nor processed' : ''}): ${unsettled.slice(0, 5).join(', ')}`,
      );
      v.check(
        wrongReason.length === 0,
        `${wrongReason.length} dead-lettered without warren-dead-* headers naming the hook's error ${c.reason}: ${wrongReason.slice(0, 3).join(' | ')}`,
      );
      v.check(overDelivered.length === 0, `bad ones handled more than once: ${overDelivered.length}`);
      v.check(
        settleMs !== undefined && settleMs < SETTLE_WITHIN_MS,
        `the bad ones were all settled ${settleMs ?? 'never'} ms after the last was sent (expected within ${SETTLE_WITHIN_MS} ms)`,
      );
      v.goodUnharmed(result);
      recordBadInput({
        id: c.id,
        scenario: `${c.scenario} (${BAD_COUNT}×, prefetch ${PREFETCH})`,
        test: currentTest(),
        started,
        outcome: `${deadLetters.length} dead-lettered${c.mayProcess ? `, ${badIds.filter((id) => good.bad.wasProcessed(id)).length} processed` : ''}, ${unsettled.length} unsettled`,
        settleMs,
        result,
        requirements: v,
        notes:
          `reasons: ${[...new Set(deadLetters.map((d) => `${d.reason.errorName}: ${errorText(d.reason.errorMessage, 80)}`))].slice(0, 2).join(' | ') || 'none'}; ` +
          `stats ${JSON.stringify(stats)}`,
      });
      await close(good.app);
      expect(v.failed).toEqual([]);
    });
  }

  it('6b: a handler that never settles — app.close() returns within shutdownTimeout + 500 ms, its message goes back to the queue, the 1,000 good ones are handled once', async () => {
    const started = Date.now();
    const SHUTDOWN_TIMEOUT = 1_000;
    let hung = 0;
    const good = await boot({
      tag: 'hang',
      module: { shutdownTimeout: SHUTDOWN_TIMEOUT },
      handler: { prefetch: PREFETCH },
      hangOn: (id) => {
        if (id !== 'bad-6b') return false;
        hung++;
        return true;
      },
    });
    let bad: ReturnType<typeof observe> | undefined;
    const result = await goodTrafficAround(admin, good, {
      prefix: '6b-',
      inject: () => {
        bad = observe(() => good.amqp.publish(good.exchange, good.queue, { id: 'bad-6b' }, { messageId: 'bad-6b' }));
      },
      done: () => hung === 1,
    });
    const closeStarted = Date.now();
    const closed = observe(() => good.app.close());
    await until(() => closed.outcome.kind !== 'pending', SHUTDOWN_TIMEOUT + 10_000, 10);
    apps.splice(apps.indexOf(good.app), 1);
    const closeMs = closed.outcome.ms ?? since(closeStarted);
    const back = await admin.get(good.queue);
    const backId = back === false ? undefined : (back.properties.messageId as string | undefined);
    const leftAfter = await admin.messageCount(good.queue);

    const v = new Requirements();
    v.check(bad?.outcome.kind === 'resolved', `the bad message's publish: ${bad ? describeOutcome(bad.outcome) : 'not sent'}`);
    v.check(hung === 1, `the handler hung on the bad message ${hung}× (expected once)`);
    v.check(closed.outcome.kind === 'resolved', `app.close(): ${describeOutcome(closed.outcome)} ${errorText(closed.outcome.error)}`);
    v.check(closeMs <= SHUTDOWN_TIMEOUT + 500, `app.close() took ${closeMs} ms (shutdownTimeout ${SHUTDOWN_TIMEOUT} ms + 500 ms margin)`);
    v.check(backId === 'bad-6b', `the hung message should be back in the queue; found ${back === false ? 'nothing' : `message ${String(backId)}`}`);
    v.check(leftAfter === 0, `the queue should hold only the hung message; ${String(leftAfter)} more`);
    v.goodUnharmed(result);
    recordBadInput({
      id: '6b',
      scenario: `a handler that never settles; app.close() with shutdownTimeout ${SHUTDOWN_TIMEOUT} ms`,
      test: currentTest(),
      started,
      outcome: `close ${describeOutcome(closed.outcome)} in ${closeMs} ms; message ${backId === 'bad-6b' ? 'back in the queue' : 'NOT back in the queue'}`,
      settleMs: closeMs,
      result,
      requirements: v,
      notes: `the hung handler held 1 of ${PREFETCH} prefetch slots`,
    });
    expect(v.failed).toEqual([]);
  });

  it('6c: the queue deleted under a running consumer — declared again and consumed at once; every message sent after the delete is confirmed and processed, or rejected typed', async () => {
    const started = Date.now();
    const good = await boot({ tag: 'deleted' });
    // Paced, so that publishing goes on well past the re-declare.
    const COUNT = 3_000;
    const RATE = 2_000;
    const ids = Array.from({ length: COUNT }, (_, i) => `6c-${i}`);
    let deleted: { messageCount: number } | undefined;
    let deletedAt = 0;
    let deleteOkAt = 0;
    let resubscribedAt: number | undefined;
    // Sent after the broker had deleted the queue (and its bindings): unroutable until the
    // consumer has declared and bound it again, routed to the new queue after. None may be lost.
    const sentAfterDelete = (): string[] => ids.filter((id) => deleteOkAt > 0 && (good.checker.attemptTime(id) ?? 0) > deleteOkAt);
    const lostAfterDelete = (): string[] => sentAfterDelete().filter((id) => good.checker.wasConfirmed(id) && !good.checker.wasProcessed(id));
    const result = await goodTrafficAround(admin, good, {
      prefix: '6c-',
      count: COUNT,
      rate: RATE,
      injectAt: [COUNT / 3],
      inject: () => {
        deletedAt = Date.now();
        void admin
          .raw((ch) => ch.deleteQueue(good.queue))
          .then((ok) => {
            deleteOkAt = Date.now();
            deleted = ok;
          });
      },
      done: async () => {
        if (deleted === undefined) return false;
        // The old queue is gone: a consumer on a queue of that name is the re-declared one.
        if (resubscribedAt === undefined && (await admin.consumerCount(good.queue)) === 1) resubscribedAt = Date.now();
        return resubscribedAt !== undefined;
      },
      goodSettled: () => deleted !== undefined && lostAfterDelete().length === 0,
    });
    const f = result.figures;
    const after = sentAfterDelete();
    const lostAfter = lostAfterDelete();
    const confirmedAfter = after.filter((id) => good.checker.wasConfirmed(id)).length;
    const deletedWithQueue = f.lost - lostAfter.length;
    const rejectedKinds = Object.keys(f.rejectedBy);
    const resubscribeMs = resubscribedAt === undefined ? undefined : resubscribedAt - deletedAt;

    const v = new Requirements();
    v.check(deleted !== undefined, 'the queue was not deleted');
    v.check(
      resubscribeMs !== undefined && resubscribeMs < 1_000,
      `consumer back on the queue ${resubscribeMs ?? 'never'} ms after the delete (expected within 1000 ms)`,
    );
    v.check(result.consumersAfter === 1, `consumers on the queue after: ${String(result.consumersAfter)}`);
    v.check(lostAfter.length === 0, `${lostAfter.length} sent after the delete, confirmed and never processed (e.g. ${lostAfter.slice(0, 5).join(', ')})`);
    v.check(confirmedAfter > 0, 'nothing sent after the delete was confirmed: the queue never came back bound');
    v.check(
      f.untyped === 0 && rejectedKinds.every((k) => k === 'UnroutableMessageError'),
      `rejections while the queue was gone should be UnroutableMessageError only: ${JSON.stringify(f.rejectedBy)} (${f.untyped} untyped)`,
    );
    v.check(f.unsettled === 0, `${f.unsettled} publishes neither confirmed nor rejected`);
    v.check(result.duplicated === 0, `${result.duplicated} handled more than once`);
    v.check(f.unexpected === 0, `${f.unexpected} processed that were never published`);
    v.check(result.delayed.count === 0, `${result.delayed.count} confirmed or handled more than 1 s after sending (slowest ${result.delayed.slowestMs} ms)`);
    v.check(!result.churn.replaced.includes('publisher'), `the publisher channel was reopened: ${describeChurn(result.churn)}`);
    v.check(
      !result.churn.reconnected && result.churn.disconnects === 0,
      `connection: ${result.churn.disconnects} disconnect(s)${result.churn.reconnected ? ', replaced' : ''}`,
    );
    recordBadInput({
      id: '6c',
      scenario: 'the queue deleted under a running consumer',
      test: currentTest(),
      started,
      outcome: `queue deleted (${deletedWithQueue} confirmed messages went with it; delete-ok said ${deleted?.messageCount ?? '-'} ready); consumer back ${resubscribeMs === undefined ? 'never' : `after ${resubscribeMs} ms`}`,
      settleMs: resubscribeMs,
      result,
      lost: lostAfter.length,
      requirements: v,
      notes:
        `${COUNT} good sent at ${RATE}/s, ${after.length} after the delete (${confirmedAfter} confirmed); rejected in the gap: ${JSON.stringify(f.rejectedBy)}; ` +
        `lost counts only those sent after the delete; the deleted queue's own consumer channel may be replaced`,
    });
    await close(good.app);
    expect(v.failed).toEqual([]);
  });
});
