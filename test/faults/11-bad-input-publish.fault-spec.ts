import type { INestApplicationContext } from '@nestjs/common';
import type { Serializer, WarrenTelemetry } from '@warren/rabbitmq';
import { BrokerAdmin, rabbitmqctl } from '../support/broker';
import {
  bootGoodApp,
  describeOutcome,
  errorText,
  goodTrafficAround,
  observe,
  recordBadInput,
  Requirements,
  type GoodApp,
  type GoodAppOptions,
  type Outcome,
} from './support/bad-input';
import { captureError } from './support/capture';
import { faultCredentials, faultUrl } from './support/fault-env';
import { currentTest, faultName, resetLogger } from './support/harness';

/** A name (exchange, routing key, message id) over AMQP's 255-byte short-string limit. */
const LONG = 'n'.repeat(300);

/** A serializer that returns a string where a Buffer is due. */
const stringSerializer: Serializer = {
  contentType: 'application/json',
  serialize: (value: unknown) => JSON.stringify(value) as unknown as Buffer,
  deserialize: (body: Buffer) => JSON.parse(body.toString()) as unknown,
};

interface PublishCase {
  id: string;
  scenario: string;
  /** Sends the bad publish (`badId` is its message id and the `id` in its body). */
  publish: (good: GoodApp, badId: string) => unknown;
  /** What the bad one must get, besides the rules every row has. */
  expect: (v: Requirements, outcome: Outcome, good: GoodApp, badId: string) => void;
  /** Options of the scenario app (evaluated when the test runs). */
  app?: () => Partial<GoodAppOptions>;
}

/** A typed rejection whose message names the field and what was found there. */
function encodingError(...names: RegExp[]): PublishCase['expect'] {
  return (v, outcome) => {
    v.typedRejection(outcome);
    v.messageNames(outcome, names);
  };
}

/**
 * A typed rejection carrying the broker's reply code (PublishFailedError.replyCode), or,
 * if the library refuses it before sending, one whose message names the offending field.
 */
function brokerRefusal(replyCode: number, field: RegExp): PublishCase['expect'] {
  return (v, outcome) => {
    v.typedRejection(outcome);
    const error = outcome.error as { replyCode?: unknown; message?: unknown } | undefined;
    const named = typeof error?.message === 'string' && field.test(error.message);
    v.check(
      error?.replyCode === replyCode || named,
      `the bad one: expected the broker's reply code ${replyCode} on the error (replyCode), or a refusal before sending naming ${field}; got replyCode ${String(error?.replyCode)}: "${errorText(outcome.error)}"`,
    );
  };
}

describe('bad input: publishes that cannot be encoded or that the broker refuses, amid 1,000 good ones', () => {
  const exchange = faultName('badin.pub.x');
  const internalExchange = faultName('badin.internal.x');
  const noWriteExchange = faultName('badin.nowrite.x');
  const missingExchange = faultName('badin.missing.x');
  let noWriteUser = '';
  let noWriteUrl = '';
  let admin: BrokerAdmin;
  const apps: INestApplicationContext[] = [];

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange, internalExchange, noWriteExchange);
    await admin.raw(async (ch) => {
      await ch.assertExchange(internalExchange, 'direct', { durable: false, internal: true });
      await ch.assertExchange(noWriteExchange, 'direct', { durable: false });
    });
    // A user like the suite's own (same password, so the credentials scan covers it), without
    // write permission on the nowrite exchange only.
    const { user, password } = faultCredentials();
    noWriteUser = `${user}-nowrite`;
    noWriteUrl = faultUrl().replace(encodeURIComponent(user), encodeURIComponent(noWriteUser));
    await rabbitmqctl('add_user', noWriteUser, password);
    await rabbitmqctl('set_permissions', '-p', '/', noWriteUser, '.*', '^(?!test\\.faults\\.badin\\.nowrite\\.).*', '.*');
  });

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    if (noWriteUser) await rabbitmqctl('delete_user', noWriteUser).catch(() => undefined);
    await admin.close();
    resetLogger();
  });

  const cases: PublishCase[] = [
    // 1: cannot be encoded.
    {
      id: '1a',
      scenario: 'header value a BigInt',
      publish: (g, id) => g.amqp.publish(g.exchange, g.queue, { id }, { messageId: id, headers: { 'bad-bigint': 10n } }),
      expect: encodingError(/bad-bigint/, /bigint/i),
    },
    {
      id: '1b',
      scenario: 'header value a Symbol',
      publish: (g, id) => g.amqp.publish(g.exchange, g.queue, { id }, { messageId: id, headers: { 'bad-symbol': Symbol('s') } }),
      expect: encodingError(/bad-symbol/, /symbol/i),
    },
    {
      id: '1c',
      scenario: 'header value a function',
      publish: (g, id) => g.amqp.publish(g.exchange, g.queue, { id }, { messageId: id, headers: { 'bad-function': () => 1 } }),
      expect: encodingError(/bad-function/, /function/i),
    },
    {
      id: '1d',
      scenario: 'header value NaN',
      publish: (g, id) => g.amqp.publish(g.exchange, g.queue, { id }, { messageId: id, headers: { 'bad-nan': Number.NaN } }),
      expect: encodingError(/bad-nan/, /NaN/),
    },
    {
      id: '1e',
      scenario: 'priority 300',
      publish: (g, id) => g.amqp.publish(g.exchange, g.queue, { id }, { messageId: id, priority: 300 }),
      expect: encodingError(/priority/, /300/),
    },
    {
      id: '1f',
      scenario: 'messageId of 300 bytes',
      publish: (g, id) => g.amqp.publish(g.exchange, g.queue, { id }, { messageId: `${id}-${LONG}` }),
      expect: encodingError(/messageId/, /\b(30\d|255) bytes\b|too long/i),
    },
    {
      id: '1g',
      scenario: 'routing key of 300 bytes',
      publish: (g, id) => g.amqp.publish(g.exchange, `${g.queue}.${LONG}`, { id }, { messageId: id }),
      expect: encodingError(/routing ?key/i, /\b(3\d\d|255) bytes\b|too long/i),
    },
    {
      id: '1h',
      scenario: 'exchange name of 300 bytes',
      publish: (g, id) => g.amqp.publish(`${g.exchange}.${LONG}`, g.queue, { id }, { messageId: id }),
      expect: encodingError(/exchange/i, /\b(3\d\d|255) bytes\b|too long/i),
    },
    {
      id: '1i',
      scenario: 'serializer option returns a string, not a Buffer',
      publish: (g, id) => g.amqp.publish(g.exchange, g.queue, { id }, { messageId: id, serializer: stringSerializer }),
      expect: encodingError(/body|serializ/i, /string/i),
    },
    // 2: refused by the broker (the channel it arrives on is closed by the broker).
    {
      id: '2a',
      scenario: "userId 'someone-else' (406 PRECONDITION_FAILED)",
      publish: (g, id) => g.amqp.publish(g.exchange, g.queue, { id }, { messageId: id, userId: 'someone-else' }),
      expect: brokerRefusal(406, /userId|user_id/),
    },
    {
      id: '2b',
      scenario: "expiration 'abc' (406 PRECONDITION_FAILED)",
      publish: (g, id) => g.amqp.publish(g.exchange, g.queue, { id }, { messageId: id, expiration: 'abc' }),
      expect: brokerRefusal(406, /expiration/),
    },
    {
      id: '2c',
      scenario: 'to an internal exchange (403 ACCESS_REFUSED)',
      publish: (g, id) => g.amqp.publish(internalExchange, g.queue, { id }, { messageId: id }),
      expect: brokerRefusal(403, /internal/),
    },
    {
      id: '2d',
      scenario: 'to an exchange the user may not write to (403 ACCESS_REFUSED)',
      publish: (g, id) => g.amqp.publish(noWriteExchange, g.queue, { id }, { messageId: id }),
      expect: brokerRefusal(403, /permission|access/i),
      app: () => ({ uri: noWriteUrl }),
    },
    {
      id: '2e',
      scenario: 'to a missing exchange (404 NOT_FOUND)',
      publish: (g, id) => g.amqp.publish(missingExchange, g.queue, { id }, { messageId: id }),
      expect: brokerRefusal(404, /does not exist|not found/i),
    },
    // 4: a throwing telemetry hook on the publish path.
    {
      id: '4e',
      scenario: 'telemetry onPublish throws for one message',
      publish: (g, id) => g.amqp.publish(g.exchange, g.queue, { id }, { messageId: id }),
      expect: publishedAnywayOrTyped,
      app: () => ({ module: { telemetry: [throwingTelemetry('onPublish')] } }),
    },
    {
      id: '4f',
      scenario: "telemetry onPublish's outcome callback throws for one message",
      publish: (g, id) => g.amqp.publish(g.exchange, g.queue, { id }, { messageId: id }),
      expect: publishedAnywayOrTyped,
      app: () => ({ module: { telemetry: [throwingTelemetry('outcome')] } }),
    },
    // 6a: larger than a frame.
    {
      id: '6a',
      scenario: 'a 200 KB header table (over the frame size)',
      publish: (g, id) => g.amqp.publish(g.exchange, g.queue, { id }, { messageId: id, headers: { 'bad-big': 'x'.repeat(200 * 1024) } }),
      expect: encodingError(/headers/, /bytes/),
    },
  ];

  for (const c of cases) {
    it(`${c.id}: ${c.scenario} — rejected at once with a typed error; the good ones confirmed and delivered once, no channel reopened`, async () => {
      const started = Date.now();
      const good = await bootGoodApp(admin, { tag: `pub${c.id}`, exchange, ...c.app?.() });
      apps.push(good.app);
      const badId = `bad-${c.id}`;
      let bad: ReturnType<typeof observe> | undefined;
      const result = await goodTrafficAround(admin, good, {
        prefix: `${c.id}-`,
        inject: () => {
          bad = observe(() => c.publish(good, badId));
        },
        done: () => bad !== undefined && bad.outcome.kind !== 'pending',
      });
      const outcome = bad?.outcome ?? { kind: 'pending' };
      captureError(`bad-input-${c.id}`, outcome.error);

      const v = new Requirements();
      c.expect(v, outcome, good, badId);
      v.goodUnharmed(result);
      recordBadInput({
        id: c.id,
        scenario: c.scenario,
        test: currentTest(),
        started,
        outcome: describeOutcome(outcome),
        settleMs: outcome.ms,
        result,
        requirements: v,
        notes:
          `${outcome.error === undefined ? '' : `"${errorText(outcome.error, 160)}"; `}` +
          `bad one handled ${good.bad.deliveriesOf(badId)}×; ${JSON.stringify(result.figures.rejectedBy)} good rejected`,
      });
      await good.app.close().catch(() => undefined);
      apps.splice(apps.indexOf(good.app), 1);
      expect(v.failed).toEqual([]);
    });
  }
});

/** A publish whose telemetry hook threw: published anyway (and delivered once), or rejected with a typed error; never thrown synchronously. */
function publishedAnywayOrTyped(v: Requirements, outcome: Outcome, good: GoodApp, badId: string): void {
  if (outcome.kind === 'resolved') {
    v.check(good.bad.deliveriesOf(badId) === 1, `the bad one: accepted, so it must be delivered once (delivered ${good.bad.deliveriesOf(badId)}×)`);
  } else {
    v.typedRejection(outcome);
  }
}

/**
 * Telemetry whose publish hook (or its outcome callback) throws for messages whose id starts
 * with 'bad-'. A callback throw that becomes an unhandled rejection fails the test (Jest reports it).
 */
function throwingTelemetry(where: 'onPublish' | 'outcome'): WarrenTelemetry {
  return {
    onPublish: (info) => {
      if (!info.messageId?.startsWith('bad-')) return undefined;
      if (where === 'onPublish') throw new Error(`telemetry exporter failed on publish of ${info.messageId}`);
      return () => {
        throw new Error(`telemetry exporter failed recording the outcome of ${String(info.messageId)}`);
      };
    },
  };
}
