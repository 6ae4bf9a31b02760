import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable, type INestApplicationContext, type Provider } from '@nestjs/common';
import { JsonSerializer, RabbitRPC, type AmqpConnection, type RequestOptions, type Serializer, type WarrenTelemetry } from '@warren/rabbitmq';
import { BrokerAdmin } from '../support/broker';
import {
  bootGoodApp,
  DELAYED_AFTER_MS,
  describeOutcome,
  errorText,
  goodTrafficAround,
  observe,
  recordBadInput,
  Requirements,
  SETTLE_WITHIN_MS,
  type GoodApp,
  type Outcome,
} from './support/bad-input';
import { currentTest, faultName, resetLogger } from './support/harness';
import { sleep } from './support/stream';

/** Good calls in flight around the bad one. */
const CALLS = 20;
/** The healthy handler's work per call, ms. */
const WORK_MS = 200;
const RPC_TIMEOUT_MS = 5_000;

type BadKind = 'circular' | 'bigint' | 'serialize' | 'telemetry';

interface WorkRequest {
  n: number;
  bad?: BadKind;
}

/** The RPC server's serializer: its serialize throws on a reply marked `poison`. */
class PoisonSerializer implements Serializer {
  readonly contentType = 'application/json';
  private readonly json = new JsonSerializer();

  serialize(value: unknown): Buffer {
    if ((value as { poison?: unknown } | null)?.poison) throw new Error('reply serializer failed: a field it cannot write');
    return this.json.serialize(value);
  }

  deserialize(body: Buffer, contentType: string | undefined): unknown {
    return this.json.deserialize(body, contentType);
  }
}

/** Telemetry whose reply hook throws inside the handling of a request marked with the `test-bad: telemetry` header. */
function throwingReplyTelemetry(): WarrenTelemetry {
  const marked = new AsyncLocalStorage<boolean>();
  return {
    onConsume: (info, next) => marked.run(info.headers['test-bad'] === 'telemetry', next),
    onReply: () => {
      if (marked.getStore()) throw new Error('telemetry propagator failed on the reply');
    },
  };
}

/** A healthy, slow RPC server; the request's `bad` field makes it fail in one of the ways under test. */
function rpcServer(exchange: string, queue: string, serializer: Serializer | undefined): Provider {
  @Injectable()
  class BadInputRpcServer {
    @RabbitRPC({ exchange, routingKey: 'work', queue, prefetch: 64, serializer })
    async work(request: WorkRequest): Promise<{ n: number; poison?: boolean }> {
      const { n, bad } = request;
      if (bad === 'circular') {
        const data: Record<string, unknown> = { n };
        data.self = data;
        throw Object.assign(new Error('refused: circular details attached'), { code: 'REFUSED', data });
      }
      if (bad === 'bigint') throw Object.assign(new Error('refused: amount too large'), { code: 'REFUSED', data: { amount: 10n ** 20n } });
      if (bad === 'serialize') return { n, poison: true };
      if (bad === 'telemetry') return { n };
      await sleep(WORK_MS);
      return { n };
    }
  }
  return BadInputRpcServer;
}

interface RpcCase {
  id: string;
  scenario: string;
  /** The bad request (against the healthy server, unless it says otherwise). */
  request: (rpc: { exchange: string; missingExchange: string }) => RequestOptions<WorkRequest>;
  expect: (v: Requirements, outcome: Outcome, calls: GoodCalls) => void;
  /** Server-side options. */
  serializer?: boolean;
  telemetry?: boolean;
}

/** What the good calls around the bad one took. */
interface GoodCalls {
  /** The fastest good call, ms (each does WORK_MS of work). */
  fastestMs: number;
}

/**
 * The server handled the bad request and the caller must hear so at once: before the fastest
 * good reply (those do WORK_MS of work, the bad one none; both share the same load, so this
 * holds on a busy machine too), and within SETTLE_WITHIN_MS.
 */
function answeredFirst(v: Requirements, outcome: Outcome, calls: GoodCalls): void {
  v.check(
    outcome.ms !== undefined && outcome.ms < calls.fastestMs,
    `the bad one: answered after ${outcome.ms ?? 'forever'} ms, not before the fastest good call (${calls.fastestMs} ms, of which ${WORK_MS} ms of work)`,
  );
}

/** A typed rejection replied by the server at once, not a timeout; its message matches `names`. */
function typedRemote(...names: RegExp[]): RpcCase['expect'] {
  return (v, outcome, calls) => {
    v.typedRejection(outcome, 'the bad one', SETTLE_WITHIN_MS);
    answeredFirst(v, outcome, calls);
    v.check((outcome.error as { code?: unknown } | undefined)?.code !== 'RPC_TIMEOUT', 'the bad one: timed out instead of getting the error');
    v.messageNames(outcome, names);
  };
}

/** A typed rejection carrying the broker's reply code, or a refusal before sending that names the field. */
function refused(replyCode: number | undefined, field: RegExp): RpcCase['expect'] {
  return (v, outcome) => {
    v.typedRejection(outcome);
    const error = outcome.error as { replyCode?: unknown; message?: unknown } | undefined;
    const named = typeof error?.message === 'string' && field.test(error.message);
    v.check(
      (replyCode !== undefined && error?.replyCode === replyCode) || named,
      `the bad one: expected ${replyCode === undefined ? '' : `the broker's reply code ${replyCode} (replyCode) or `}a message naming ${field}; got ${describeOutcome(outcome)}: "${errorText(outcome.error)}"`,
    );
  };
}

describe('bad input: one bad RPC request among 20 concurrent calls to a healthy slow handler (and 1,000 good publishes)', () => {
  const exchange = faultName('badin.rpcpub.x');
  const rpcExchange = faultName('badin.rpc.x');
  const missingExchange = faultName('badin.rpcmissing.x');
  let admin: BrokerAdmin;
  const apps: INestApplicationContext[] = [];

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange, rpcExchange);
  });

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    await admin.close();
    resetLogger();
  });

  const cases: RpcCase[] = [
    {
      id: '4g',
      scenario: 'RPC handler throws an error with circular data',
      request: (x) => ({ exchange: x.exchange, routingKey: 'work', payload: { n: -1, bad: 'circular' } }),
      expect: typedRemote(/refused: circular details attached/),
    },
    {
      id: '4h',
      scenario: 'RPC handler throws an error with a BigInt in its data',
      request: (x) => ({ exchange: x.exchange, routingKey: 'work', payload: { n: -1, bad: 'bigint' } }),
      expect: typedRemote(/refused: amount too large/),
    },
    {
      id: '4i',
      scenario: "RPC handler's serializer throws on its reply",
      request: (x) => ({ exchange: x.exchange, routingKey: 'work', payload: { n: -1, bad: 'serialize' } }),
      expect: typedRemote(),
      serializer: true,
    },
    {
      id: '4j',
      scenario: 'telemetry onReply throws while replying',
      request: (x) => ({ exchange: x.exchange, routingKey: 'work', payload: { n: -1, bad: 'telemetry' }, headers: { 'test-bad': 'telemetry' } }),
      // Telemetry need not fail the call: the reply, or a typed error at once.
      expect: (v, outcome, calls) => {
        if (outcome.kind !== 'resolved') return typedRemote()(v, outcome, calls);
        v.check((outcome.value as { n?: unknown } | undefined)?.n === -1, `the bad one: wrong reply ${JSON.stringify(outcome.value)}`);
        answeredFirst(v, outcome, calls);
      },
      telemetry: true,
    },
    {
      id: '5a',
      scenario: 'RPC request to a missing exchange',
      request: (x) => ({ exchange: x.missingExchange, routingKey: 'work', payload: { n: -1 } }),
      expect: refused(404, /does not exist|not found/i),
    },
    {
      id: '5b',
      scenario: "RPC request with publishOptions.userId 'someone-else' (406)",
      request: (x) => ({ exchange: x.exchange, routingKey: 'work', payload: { n: -1 }, publishOptions: { userId: 'someone-else' } }),
      expect: refused(406, /userId|user_id/),
    },
    {
      id: '5c',
      scenario: 'RPC request with publishOptions.priority 300',
      request: (x) => ({ exchange: x.exchange, routingKey: 'work', payload: { n: -1 }, publishOptions: { priority: 300 } }),
      expect: refused(undefined, /priority/),
    },
  ];

  for (const c of cases) {
    it(`${c.id}: ${c.scenario} — a typed error at once (before any good reply); the ${CALLS} good calls answered, the good publishes unharmed`, async () => {
      const started = Date.now();
      const rpcQueue = faultName(`badin.rpc${c.id}.q`);
      admin.track('queue', rpcQueue);
      const good: GoodApp = await bootGoodApp(admin, {
        tag: `rpc${c.id}`,
        exchange,
        module: {
          exchanges: [
            { name: exchange, type: 'direct' },
            { name: rpcExchange, type: 'direct' },
          ],
          telemetry: c.telemetry ? [throwingReplyTelemetry()] : undefined,
        },
        providers: [rpcServer(rpcExchange, rpcQueue, c.serializer ? new PoisonSerializer() : undefined)],
      });
      apps.push(good.app);
      const rpcConsumersBefore = await admin.consumerCount(rpcQueue);
      const calls: Array<{ n: number; call: ReturnType<typeof observe> }> = [];
      let bad: ReturnType<typeof observe> | undefined;
      const call =
        (amqp: AmqpConnection, request: RequestOptions<WorkRequest>): (() => Promise<unknown>) =>
        () =>
          amqp.request({ timeout: RPC_TIMEOUT_MS, ...request });
      const result = await goodTrafficAround(admin, good, {
        prefix: `${c.id}-`,
        inject: () => {
          for (let n = 0; n < CALLS; n++) {
            if (n === CALLS / 2) bad = observe(call(good.amqp, c.request({ exchange: rpcExchange, missingExchange })));
            calls.push({ n, call: observe(call(good.amqp, { exchange: rpcExchange, routingKey: 'work', payload: { n } })) });
          }
        },
        done: () => bad !== undefined && bad.outcome.kind !== 'pending' && calls.length === CALLS && calls.every((x) => x.call.outcome.kind !== 'pending'),
        deadlineMs: RPC_TIMEOUT_MS + 10_000,
      });
      const outcome: Outcome = bad?.outcome ?? { kind: 'pending' };
      const rpcConsumersAfter = await admin.consumerCount(rpcQueue);
      const answered = calls.filter((x) => x.call.outcome.kind === 'resolved' && (x.call.outcome.value as { n?: unknown } | undefined)?.n === x.n);
      const failedCalls = calls.filter((x) => !answered.includes(x)).map((x) => `${x.n}: ${describeOutcome(x.call.outcome)}`);
      const slowCalls = answered.filter((x) => (x.call.outcome.ms ?? 0) > DELAYED_AFTER_MS).length;
      const slowest = Math.max(0, ...calls.map((x) => x.call.outcome.ms ?? 0));
      const fastest = Math.min(...answered.map((x) => x.call.outcome.ms ?? Infinity));

      const v = new Requirements();
      c.expect(v, outcome, { fastestMs: fastest });
      v.check(
        answered.length === CALLS,
        `good calls: ${CALLS - answered.length} of ${CALLS} not answered correctly (${[...new Set(failedCalls.map((f) => f.replace(/^\d+: /, '')))].join(', ')})`,
      );
      v.check(slowCalls === 0, `good calls: ${slowCalls} answered more than ${DELAYED_AFTER_MS} ms after the call`);
      v.check(
        rpcConsumersAfter === rpcConsumersBefore && rpcConsumersAfter === 1,
        `RPC server consumers: ${String(rpcConsumersBefore)} before, ${String(rpcConsumersAfter)} after`,
      );
      v.goodUnharmed(result);
      recordBadInput({
        id: c.id,
        scenario: c.scenario,
        test: currentTest(),
        started,
        outcome: describeOutcome(outcome),
        settleMs: outcome.ms,
        result,
        good: { sent: CALLS, answered: answered.length },
        requirements: v,
        notes:
          `${outcome.error === undefined ? '' : `"${errorText(outcome.error, 160)}"; `}good calls: ${answered.length}/${CALLS} answered in ${Number.isFinite(fastest) ? fastest : '-'}–${slowest} ms` +
          `${failedCalls.length ? ` (${[...new Set(failedCalls.map((f) => f.replace(/^\d+: /, '')))].join(', ')})` : ''}; ` +
          `publishes: ${result.figures.confirmed}/${result.sent} confirmed, lost ${result.figures.lost}; RPC consumers ${String(rpcConsumersBefore)} -> ${String(rpcConsumersAfter)}`,
      });
      await good.app.close().catch(() => undefined);
      apps.splice(apps.indexOf(good.app), 1);
      expect(v.failed).toEqual([]);
    });
  }
});
