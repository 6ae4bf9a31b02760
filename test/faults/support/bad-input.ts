import { Injectable, type INestApplicationContext, type Provider } from '@nestjs/common';
import { RabbitMQModule, RabbitSubscribe, WarrenError, type AmqpConnection, type RabbitHandlerConfig, type RabbitMQModuleOptions } from '@warren/rabbitmq';
import { rabbitmqctl, type BrokerAdmin } from '../../support/broker';
import type { FaultLogger } from './capture';
import { TotalQueueChecker } from './checker';
import { faultUrl } from './fault-env';
import { recordFigures, since, type BadInputFigures } from './figures';
import { bootApp, faultName } from './harness';
import { PublishStream, until } from './stream';

/**
 * The bad-input scenarios (test/faults/11-bad-input-*): one bad message, refused publish or
 * throwing user hook sent in the middle of good traffic. The promise under test: the bad one
 * fails alone, fast, with a typed error, and never stalls, duplicates or loses anybody else's
 * messages, nor makes a channel carrying their traffic close and reopen.
 */

/** Good messages sent around each bad input. */
export const GOOD_COUNT = 1_000;
/** Good publishes awaiting their confirm at once. */
export const GOOD_WINDOW = 100;
/** A bad publish or request refused before sending (no network) must be rejected within this, ms. */
export const REJECT_WITHIN_MS = 100;
/**
 * One the broker refused (the error carries its reply code) within this, ms: a round trip, on a
 * channel of its own for a new kind of message, measured 50–110 ms on a busy 2-core machine. Still
 * far below the publish (3 s) and RPC (5 s) timeouts, so a timeout cannot pass for a refusal.
 */
export const REFUSED_WITHIN_MS = 1_000;
/** Bad deliveries (consumer side: dead-lettered, or processed) must be settled within this after the last was sent, ms. */
export const SETTLE_WITHIN_MS = 1_000;
/** A good message confirmed or handled later than this after it was sent counts as delayed, ms. */
export const DELAYED_AFTER_MS = 1_000;
/** Publish timeout of the scenario apps: bounds how long a stuck publish can hang a row, ms. */
export const PUBLISH_TIMEOUT_MS = 3_000;

// --- the broker's view of the app's channels ------------------------------------------

/** One channel of the app's connection, as `rabbitmqctl list_channels` shows it. */
export interface BrokerChannel {
  pid: string;
  number: number;
  confirm: boolean;
  consumers: number;
}

export interface ChannelSnapshot {
  /** The pid of the connection with this client-provided name; undefined if there is none (or several). */
  connection: string | undefined;
  channels: BrokerChannel[];
}

/** The channels of the connection whose `connection_name` client property is `connectionName`. */
export async function channelSnapshot(connectionName: string): Promise<ChannelSnapshot> {
  const [connections, channels] = await Promise.all([
    rabbitmqctl('list_connections', '-q', '--no-table-headers', 'pid', 'client_properties'),
    rabbitmqctl('list_channels', '-q', '--no-table-headers', 'pid', 'connection', 'number', 'confirm', 'consumer_count'),
  ]);
  const pids = connections
    .split('\n')
    .filter((line) => line.includes(`"${connectionName}"`))
    .map((line) => line.split('\t')[0].trim())
    .filter(Boolean);
  const connection = pids.length === 1 ? pids[0] : undefined;
  const list: BrokerChannel[] = [];
  for (const line of channels.split('\n')) {
    const [pid, conn, number, confirm, consumers] = line.split('\t').map((f) => f.trim());
    if (!pid || conn !== connection) continue;
    list.push({ pid, number: Number(number), confirm: confirm === 'true', consumers: Number(consumers) });
  }
  return { connection, channels: list.sort((a, b) => a.number - b.number) };
}

/** publisher (confirm mode), consumer, or other (the topology channel; the RPC client's, whose direct reply-to consumer the broker does not count). */
function roleOf(channel: BrokerChannel): string {
  return channel.confirm ? 'publisher' : channel.consumers > 0 ? 'consumer' : 'other';
}

/**
 * Compares the broker's channel pids of the app's connection before and after a scenario: a
 * channel that closed and was reopened has a new pid, however quickly it came back. Only the
 * channels open before the scenario count: those carry the good traffic (publisher, consumers,
 * RPC client; and topology). A channel the library opens meanwhile for its own purposes (the
 * publisher's probe channel, which carries a message of a new kind alone so that a refusal
 * closes nothing else) is not good traffic's. Also samples the app's channel counts
 * (`AmqpConnection.channelCounts`) and connection state, for the notes.
 */
export class ChannelWatch {
  private dipCount = 0;
  private disconnectCount = 0;
  private last = { open: 0, total: 0 };
  private timer?: NodeJS.Timeout;
  private subscription?: { unsubscribe(): void };
  private before?: ChannelSnapshot;

  constructor(
    private readonly amqp: AmqpConnection,
    private readonly connectionName: string,
  ) {}

  async start(): Promise<void> {
    this.before = await channelSnapshot(this.connectionName);
    this.last = this.amqp.channelCounts;
    this.timer = setInterval(() => {
      const now = this.amqp.channelCounts;
      // A channel went down: fewer open, as many in all (a channel being created is not one).
      if (now.total === this.last.total && now.open < this.last.open) this.dipCount += this.last.open - now.open;
      this.last = now;
    }, 5);
    let first = true;
    this.subscription = this.amqp.status$.subscribe((status) => {
      if (!first && status !== 'connected') this.disconnectCount++;
      first = false;
    });
  }

  /** Stops sampling and compares with the broker's channels now. */
  async stop(): Promise<ChannelChurn> {
    clearInterval(this.timer);
    this.subscription?.unsubscribe();
    const before = this.before ?? { connection: undefined, channels: [] };
    const after = await channelSnapshot(this.connectionName);
    const afterPids = new Set(after.channels.map((c) => c.pid));
    const gone = before.channels.filter((c) => !afterPids.has(c.pid));
    const reconnected = before.connection !== after.connection;
    return {
      reopens: gone.length,
      replaced: gone.map(roleOf),
      dips: this.dipCount,
      disconnects: this.disconnectCount,
      reconnected,
      before: before.channels.map(roleOf),
      after: after.channels.map(roleOf),
    };
  }
}

export interface ChannelChurn {
  /** Channels open before the scenario that closed (and were reopened: a new pid), per the broker. */
  reopens: number;
  /** Roles of the channels whose broker pid changed. */
  replaced: string[];
  /** Times the app's channel counts showed a channel going down (any channel, the library's probe included). */
  dips: number;
  /** Times the connection left 'connected'. */
  disconnects: number;
  reconnected: boolean;
  before: string[];
  after: string[];
}

export function describeChurn(churn: ChannelChurn): string {
  const replaced = churn.replaced.length ? `broker replaced ${churn.replaced.join(', ')}` : 'broker channel pids unchanged';
  const connection = churn.reconnected ? '; connection REPLACED' : churn.disconnects ? `; ${churn.disconnects} disconnect(s)` : '';
  return `${replaced} (${churn.before.length} -> ${churn.after.length} channels), app saw a channel go down ${churn.dips}×${connection}`;
}

// --- what the bad one got -------------------------------------------------------------

/** How a call ended: resolved, rejected, threw synchronously (from a Promise-returning API), or not yet. */
export interface Outcome {
  kind: 'resolved' | 'rejected' | 'threw' | 'pending';
  value?: unknown;
  error?: unknown;
  /** ms from the call until it settled. */
  ms?: number;
}

/** Starts `call` and records how and when it settles; the returned record fills in later. */
export function observe(call: () => unknown): { outcome: Outcome; settled: Promise<void> } {
  const outcome: Outcome = { kind: 'pending' };
  const started = Date.now();
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    Object.assign(outcome, { kind: 'threw', error, ms: since(started) });
    return { outcome, settled: Promise.resolve() };
  }
  const settled = Promise.resolve(result).then(
    (value) => void Object.assign(outcome, { kind: 'resolved', value, ms: since(started) }),
    (error: unknown) => void Object.assign(outcome, { kind: 'rejected', error, ms: since(started) }),
  );
  return { outcome, settled };
}

/** "ClassName CODE" of an error, or what the outcome was. */
export function describeOutcome(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'pending':
      return 'still pending';
    case 'resolved':
      return 'resolved (accepted)';
    case 'threw':
      return `threw synchronously: ${errorLabel(outcome.error)}`;
    default:
      return errorLabel(outcome.error);
  }
}

export function errorLabel(error: unknown): string {
  if (!(error instanceof Error)) return `non-Error ${typeof error}`;
  const { code, replyCode } = error as { code?: unknown; replyCode?: unknown };
  const extra = [
    typeof code === 'string' || typeof code === 'number' ? String(code) : undefined,
    typeof replyCode === 'number' ? `reply ${replyCode}` : undefined,
  ].filter(Boolean);
  return `${error.name}${extra.length ? ` ${extra.join(', ')}` : ''}`;
}

/** The error's message, clipped for a table cell. */
export function errorText(error: unknown, max = 200): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/**
 * The requirements a row checks, collected so that a failing row lists every one it
 * violates (not just the first), in the test's failure message and in the figures notes.
 */
export class Requirements {
  readonly failed: string[] = [];

  check(ok: boolean, requirement: string): void {
    if (!ok) this.failed.push(requirement);
  }

  /**
   * The bad call was rejected (not thrown, not accepted, not left hanging) with a typed WarrenError within
   * `withinMs`: by default REJECT_WITHIN_MS, or REFUSED_WITHIN_MS when the broker refused it (a reply code).
   */
  typedRejection(outcome: Outcome, what = 'the bad one', withinMs?: number): void {
    if (outcome.kind !== 'rejected') {
      this.failed.push(`${what}: expected a rejected promise, got ${describeOutcome(outcome)}${outcome.ms === undefined ? '' : ` after ${outcome.ms} ms`}`);
      if (outcome.kind !== 'threw') return;
    }
    const error = outcome.error;
    withinMs ??= typeof (error as { replyCode?: unknown } | undefined)?.replyCode === 'number' ? REFUSED_WITHIN_MS : REJECT_WITHIN_MS;
    this.check(error instanceof WarrenError, `${what}: expected a WarrenError, got ${errorLabel(error)}: ${errorText(error)}`);
    this.check(typeof (error as { code?: unknown } | undefined)?.code === 'string', `${what}: expected a string code on the error`);
    this.check((outcome.ms ?? Infinity) < withinMs, `${what}: expected a rejection within ${withinMs} ms, took ${outcome.ms ?? 'forever'} ms`);
  }

  /** The error's message matches each pattern (it names the field, the value's type, ...). */
  messageNames(outcome: Outcome, patterns: RegExp[], what = 'the bad one'): void {
    const text = outcome.error instanceof Error ? outcome.error.message : '';
    for (const pattern of patterns) this.check(pattern.test(text), `${what}: the error message should match ${pattern} ("${errorText(outcome.error, 300)}")`);
  }

  /** The good traffic around it was unharmed. */
  goodUnharmed(result: GoodTrafficResult): void {
    const f = result.figures;
    this.check(f.rejected === 0, `good: ${f.rejected} publishes rejected (${JSON.stringify(f.rejectedBy)})`);
    this.check(f.unsettled === 0, `good: ${f.unsettled} publishes neither confirmed nor rejected`);
    this.check(f.lost === 0, `good: ${f.lost} confirmed and never processed (e.g. ${f.lostIds.slice(0, 5).join(', ')})`);
    this.check(result.duplicated === 0, `good: ${result.duplicated} handled more than once`);
    this.check(f.unexpected === 0, `good: ${f.unexpected} processed that were never published (e.g. ${f.unexpectedIds.slice(0, 5).join(', ')})`);
    this.check(
      result.delayed.count === 0,
      `good: ${result.delayed.count} confirmed or handled more than ${DELAYED_AFTER_MS} ms after sending (slowest ${result.delayed.slowestMs} ms)`,
    );
    this.check(result.churn.reopens === 0, `channels: ${result.churn.reopens} channel reopen(s): ${describeChurn(result.churn)}`);
    this.check(
      !result.churn.reconnected && result.churn.disconnects === 0,
      `connection: ${result.churn.disconnects} disconnect(s)${result.churn.reconnected ? ', replaced' : ''}`,
    );
    this.check(result.consumersAfter === result.consumersBefore, `consumers on the queue: ${result.consumersBefore} before, ${result.consumersAfter} after`);
  }
}

// --- an app with good traffic ---------------------------------------------------------

/** What the recording handler saw of the bad messages (ids starting with 'bad-'), kept out of the checker. */
export class BadSeen {
  private readonly deliveries = new Map<string, number>();
  private readonly processedIds = new Set<string>();

  delivered(id: string): void {
    this.deliveries.set(id, (this.deliveries.get(id) ?? 0) + 1);
  }

  processed(id: string): void {
    this.processedIds.add(id);
  }

  deliveriesOf(id: string): number {
    return this.deliveries.get(id) ?? 0;
  }

  wasProcessed(id: string): boolean {
    return this.processedIds.has(id);
  }
}

/** Ids of bad messages start with this; the recording handler keeps them out of the checker. */
export const BAD_PREFIX = 'bad-';

/** A scenario app: one recording handler on its own queue, fed by good publishes. */
export interface GoodApp {
  app: INestApplicationContext;
  amqp: AmqpConnection;
  logger: FaultLogger;
  /** The good messages. */
  checker: TotalQueueChecker;
  /** The bad ones the handler saw. */
  bad: BadSeen;
  exchange: string;
  /** The recording handler's queue; good messages are published with it as routing key. */
  queue: string;
  connectionName: string;
}

export interface GoodAppOptions {
  /** Short tag in the queue and connection names. */
  tag: string;
  /** A direct exchange the module declares. */
  exchange: string;
  /** @default the suite's test user on the default broker */
  uri?: string;
  /** More module options (telemetry, serializer, shutdownTimeout, ...). */
  module?: Partial<RabbitMQModuleOptions>;
  /** More options of the recording handler (dedup, deadLetter, prefetch, serializer, ...). */
  handler?: Partial<RabbitHandlerConfig>;
  /** The recording handler never returns for the messages with these ids. */
  hangOn?: (id: string) => boolean;
  /** More handlers (RPC servers, ...). */
  providers?: Provider[];
}

/** The recording handler's name in handler stats. */
export const BAD_INPUT_RECORDER = 'BadInputRecorder.handle';

/**
 * A handler that records every delivery and completion in the checker (like the harness's
 * recorder; bad ones in `bad`) and takes any handler option; it hangs for good on the ids
 * `hangOn` picks.
 */
function recordingHandler(config: RabbitHandlerConfig, checker: TotalQueueChecker, bad: BadSeen, hangOn: ((id: string) => boolean) | undefined): Provider {
  @Injectable()
  class BadInputRecorder {
    @RabbitSubscribe(config)
    async handle(payload: { id: string }): Promise<void> {
      // A null or non-object body throws here, as a real handler reading a field would.
      const id = payload.id;
      const record = id.startsWith(BAD_PREFIX) ? bad : checker;
      record.delivered(id);
      if (hangOn?.(id)) await new Promise<never>(() => undefined);
      await new Promise((resolve) => setImmediate(resolve));
      if (record === checker) checker.sideEffect(id);
      record.processed(id);
    }
  }
  return BadInputRecorder;
}

/** Boots a scenario app; its queues are tracked on `admin` for deletion. */
export async function bootGoodApp(admin: BrokerAdmin, options: GoodAppOptions): Promise<GoodApp> {
  const queue = faultName(`badin.${options.tag}.q`);
  const connectionName = faultName(`badin-${options.tag}-app`);
  admin.track('queue', queue, `${queue}.dlq`);
  const checker = new TotalQueueChecker();
  const bad = new BadSeen();
  const module: RabbitMQModuleOptions = {
    uri: options.uri ?? faultUrl(),
    connectionName,
    exchanges: [{ name: options.exchange, type: 'direct' }],
    publishOptions: { timeout: PUBLISH_TIMEOUT_MS },
    shutdownTimeout: 2_000,
    ...options.module,
  };
  const handler: RabbitHandlerConfig = { exchange: options.exchange, routingKey: queue, queue, prefetch: 50, ...options.handler };
  const { app, logger, amqp } = await bootApp(
    {
      imports: [RabbitMQModule.forRoot(module)],
      providers: [recordingHandler(handler, checker, bad, options.hangOn), ...(options.providers ?? [])],
    },
    `bad-input-${options.tag}`,
  );
  return { app, amqp, logger, checker, bad, exchange: options.exchange, queue, connectionName };
}

export interface GoodTrafficOptions {
  /** Id prefix of the good messages. */
  prefix: string;
  /** @default GOOD_COUNT */
  count?: number;
  /** Indexes of the good stream at which `inject` runs (it runs just before that good publish). @default [count / 2] */
  injectAt?: number[];
  /** Sends the bad input(s); called once per `injectAt` index. */
  inject: (nth: number) => void;
  /** Also true before the row is over (e.g. every bad delivery settled); polled from the start. @default always */
  done?: () => boolean | Promise<boolean>;
  /** When the good messages count as settled. @default every confirmed one processed */
  goodSettled?: () => boolean;
  /** Good messages per second at most. @default unpaced */
  rate?: number;
  /** @default 15000 */
  deadlineMs?: number;
}

export interface GoodTrafficResult {
  figures: ReturnType<TotalQueueChecker['report']>;
  /** Good messages handled more than once. */
  duplicated: number;
  delayed: ReturnType<TotalQueueChecker['delayedIds']>;
  churn: ChannelChurn;
  consumersBefore: number | undefined;
  consumersAfter: number | undefined;
  /** Whether everything settled before the deadline. */
  settled: boolean;
  sent: number;
}

/**
 * Publishes `count` good messages (at most GOOD_WINDOW awaiting their confirm), runs `inject`
 * in the middle, waits until every confirmed good message was processed (and `done`), the queue
 * is empty, and compares the channels before and after.
 */
export async function goodTrafficAround(admin: BrokerAdmin, good: GoodApp, options: GoodTrafficOptions): Promise<GoodTrafficResult> {
  const { amqp, checker, exchange, queue } = good;
  const count = options.count ?? GOOD_COUNT;
  const injectAt = new Set(options.injectAt ?? [Math.floor(count / 2)]);
  const consumersBefore = await admin.consumerCount(queue);
  const watch = new ChannelWatch(amqp, good.connectionName);
  await watch.start();
  let nth = 0;
  const stream = new PublishStream({
    count,
    prefix: options.prefix,
    window: GOOD_WINDOW,
    rate: options.rate,
    checker,
    publish: (id, index) => {
      if (injectAt.has(index)) options.inject(nth++);
      return amqp.publish(exchange, queue, { id }, { messageId: id });
    },
  });
  const deadline = options.deadlineMs ?? 15_000;
  const goodSettled = options.goodSettled ?? (() => checker.settled);
  const settled = await until(
    async () => {
      // Every condition on every poll: `done` may time something (e.g. when the bad ones settled).
      const done = options.done ? await options.done() : true;
      return done && stream.settled === count && goodSettled();
    },
    deadline,
    20,
  );
  // Redeliveries and re-sends show up after the first run: the queue must be empty too.
  await until(async () => (await admin.messageCount(queue)) === 0, 5_000, 50);
  const churn = await watch.stop();
  const consumersAfter = await admin.consumerCount(queue);
  const figures = checker.report();
  let duplicated = 0;
  for (let i = 0; i < count; i++) if (checker.deliveriesOf(`${options.prefix}${i}`) > 1) duplicated++;
  return {
    figures,
    duplicated,
    delayed: checker.delayedIds(DELAYED_AFTER_MS, (id) => id.startsWith(options.prefix)),
    churn,
    consumersBefore,
    consumersAfter,
    settled,
    sent: stream.sent,
  };
}

/** Records a bad-input row in the figures file. */
export function recordBadInput(row: {
  id: string;
  scenario: string;
  test: string;
  started: number;
  outcome: string;
  settleMs: number | undefined;
  result: GoodTrafficResult;
  /** Good calls (RPC) instead of good publishes, when those are what the row is about. */
  good?: { sent: number; answered: number };
  /** Lost good messages, when the row counts them otherwise (e.g. leaving out those an operator deleted). */
  lost?: number;
  requirements: Requirements;
  notes?: string;
}): void {
  const { result } = row;
  const badInput: BadInputFigures = {
    outcome: row.outcome,
    settleMs: row.settleMs,
    good: row.good?.sent ?? result.sent,
    confirmed: row.good?.answered ?? result.figures.confirmed,
    lost: row.lost ?? result.figures.lost,
    duplicated: result.duplicated,
    delayed: result.delayed.count,
    reopens: result.churn.reopens,
    consumers: `${result.consumersBefore ?? '–'} -> ${result.consumersAfter ?? '–'}`,
  };
  const failed = row.requirements.failed.length ? `; VIOLATED: ${row.requirements.failed.join('; ')}` : '';
  recordFigures({
    id: row.id,
    scenario: row.scenario,
    test: row.test,
    figures: result.figures,
    durationMs: since(row.started),
    badInput,
    notes: `${row.notes ? `${row.notes}; ` : ''}${describeChurn(result.churn)}${result.settled ? '' : '; did NOT settle before the deadline'}${failed}`,
  });
}
