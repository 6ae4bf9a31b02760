import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import type { INestApplicationContext } from '@nestjs/common';
import { AmqpConnection, ConnectionClosedError, RabbitMQModule, RpcTimeoutError } from '@warren/rabbitmq';
import { BrokerAdmin, closeConnectionsNamed } from '../support/broker';
import { captureError } from './support/capture';
import { faultUrl } from './support/fault-env';
import { recordFigures, since } from './support/figures';
import { bootApp, currentTest, faultName, resetLogger } from './support/harness';
import { sleep, until } from './support/stream';
import { activeResources } from './support/tcp-proxy';
import { TimerTracker } from './support/timer-tracker';
import { WorkerProcess } from './support/workers';

const CALLS = 10_000;
const CONCURRENCY = 100;
const TIMEOUT = 1_000;
/** A rejection may come this much after its timeout (timer resolution, a busy event loop). */
const SLACK = 300;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
  return process.memoryUsage().heapUsed;
}

/** Listeners on the raw amqplib connection and its channels (amqplib's own structure). */
function listenerTotal(amqp: AmqpConnection): number {
  const model = amqp.connection as unknown as
    (NodeJS.EventEmitter & { connection?: NodeJS.EventEmitter & { channels?: Array<{ channel?: NodeJS.EventEmitter } | null> } }) | undefined;
  if (!model) return -1;
  const count = (emitter: NodeJS.EventEmitter): number =>
    typeof emitter.eventNames === 'function' ? emitter.eventNames().reduce((sum, name) => sum + emitter.listenerCount(name), 0) : 0;
  let total = count(model);
  if (model.connection) {
    total += count(model.connection);
    for (const entry of model.connection.channels ?? []) if (entry?.channel) total += count(entry.channel);
  }
  return total;
}

/**
 * A caller makes 10,000 requests (100 at a time) to an RPC server in a child process. Mid-way
 * the server is killed with kill -9 and stays dead for longer than the request timeout; later
 * the caller's own connection is closed under 100 calls in flight. Every call must end with the
 * right reply or a typed error within its timeout, and nothing may be left behind.
 */
describe('fault 7: the RPC server dies mid-request', () => {
  const exchange = faultName('rpc.x');
  const queue = faultName('rpc.q');
  let admin: BrokerAdmin;
  let caller: INestApplicationContext | undefined;
  const servers: WorkerProcess[] = [];
  const timers = new TimerTracker();

  beforeAll(async () => {
    timers.start();
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange);
    admin.track('queue', queue);
  });

  afterAll(async () => {
    for (const server of servers) await server.kill9(false).catch(() => undefined);
    await caller?.close().catch(() => undefined);
    await admin.close();
    timers.stop();
    resetLogger();
  });

  it(`every one of ${CALLS} calls gets its reply or a typed error within its timeout, and no timer, listener or heap is left behind`, async () => {
    const started = Date.now();
    let instances = 0;
    const startServer = async (): Promise<WorkerProcess> => {
      const server = new WorkerProcess(`fault-7-server-${++instances}`, {
        MODE: 'rpc',
        AMQP_URL: faultUrl(),
        EXCHANGE: exchange,
        QUEUE: queue,
        PREFETCH: '50',
        WORK_MS: '2',
        CONNECTION_NAME: faultName('rpc-server'),
      });
      servers.push(server);
      await server.waitFor('ready');
      return server;
    };
    let server = await startServer();
    const callerName = faultName('rpc-caller');
    const booted = await bootApp(
      {
        imports: [
          RabbitMQModule.forRoot({ uri: faultUrl(), connectionName: callerName, exchanges: [{ name: exchange, type: 'direct' }], defaultRpcTimeout: TIMEOUT }),
        ],
      },
      'fault-7-caller',
    );
    caller = booted.app;
    const amqp = booted.amqp;

    let restartedAt: number | undefined;
    let firstOkAfterRestart: number | undefined;
    const outcomes = { ok: 0, wrong: 0, late: 0, hung: 0, errors: {} as Record<string, number>, untyped: 0 };
    let maxErrorMs = 0;
    const call = async (n: number): Promise<void> => {
      const t0 = Date.now();
      let guardTimer: NodeJS.Timeout | undefined;
      const guard = new Promise<'hung'>((resolve) => (guardTimer = setTimeout(() => resolve('hung'), TIMEOUT + 5_000)));
      try {
        const reply = await Promise.race([amqp.request<{ n: number }>({ exchange, routingKey: queue, payload: { n }, timeout: TIMEOUT }), guard]);
        if (reply === 'hung') outcomes.hung++;
        else if (reply.n === n) {
          outcomes.ok++;
          if (restartedAt !== undefined && firstOkAfterRestart === undefined && t0 >= restartedAt) firstOkAfterRestart = Date.now();
        } else outcomes.wrong++;
      } catch (error) {
        const elapsed = Date.now() - t0;
        maxErrorMs = Math.max(maxErrorMs, elapsed);
        if (elapsed > TIMEOUT + SLACK) outcomes.late++;
        const name = error instanceof Error ? error.name : typeof error;
        outcomes.errors[name] = (outcomes.errors[name] ?? 0) + 1;
        if (!(error instanceof RpcTimeoutError) && !(error instanceof ConnectionClosedError)) {
          outcomes.untyped++;
          captureError('fault-7-caller', error);
        }
      } finally {
        clearTimeout(guardTimer);
      }
    };
    let next = 0;
    const runCalls = async (count: number, onEach?: (n: number) => Promise<void> | void, keepGoing = () => false): Promise<void> => {
      const end = next + count;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < end || keepGoing()) {
            const n = next++;
            await onEach?.(n);
            await call(n);
          }
        }),
      );
    };

    // Warm up, then take the baseline.
    await runCalls(500);
    await sleep(200);
    const baseline = { heap: await settledHeap(), resources: activeResources(), listeners: listenerTotal(amqp), timers: timers.live() };
    const warmupOk = outcomes.ok;
    outcomes.ok = 0;

    // 10,000 calls; the server dies at the 3,000th and stays dead for longer than the timeout.
    let killed!: () => void;
    const kill = new Promise<void>((resolve) => (killed = resolve));
    const restart = (async () => {
      await kill;
      await sleep(TIMEOUT + 500);
      server = await startServer();
      restartedAt = Date.now();
    })();
    const phaseStart = next;
    await runCalls(CALLS - CONCURRENCY * 2, async (n) => {
      if (n === phaseStart + 3_000) {
        await server.kill9(false);
        killed();
      }
    });
    await restart;
    const errorsAfterServerDeath = { ...outcomes.errors };

    // The caller's own connection drops under 100 calls in flight.
    let closing = true;
    const inFlight = runCalls(CONCURRENCY * 2, undefined, () => closing);
    await sleep(20);
    const closed = await closeConnectionsNamed(callerName);
    await until(() => (outcomes.errors.ConnectionClosedError ?? 0) > 0, 5_000, 5);
    closing = false;
    await inFlight;
    await until(() => amqp.isConnected, 10_000);

    await sleep(TIMEOUT + 500); // replies to timed-out calls, and the timers of those calls, are gone by now
    // Counts are process-wide: give unrelated timers (Jest's, the reconnect's) a moment to settle.
    // Timers: Warren's and amqplib's own (a process-wide Timeout count also sees Jest's and those of
    // earlier test files); other resources: process-wide counts.
    const grownKinds = (): string[] => {
      const now = activeResources();
      const kinds = Object.keys(now).filter((kind) => kind !== 'Timeout' && (now[kind] ?? 0) > (baseline.resources[kind] ?? 0));
      return timers.live().length > baseline.timers.length ? [...kinds, 'Timeout'] : kinds;
    };
    await until(() => grownKinds().length === 0, 3_000, 100);
    const after = { heap: await settledHeap(), resources: activeResources(), listeners: listenerTotal(amqp), timers: timers.live() };
    const grown = grownKinds();
    if (after.timers.length > baseline.timers.length)
      console.log(`fault 7: timers left behind:\n${JSON.stringify(after.timers, null, 1)}\nat the baseline:\n${JSON.stringify(baseline.timers, null, 1)}`);
    const heapDeltaMb = (after.heap - baseline.heap) / 1024 / 1024;
    const total = next - 500;
    const errorCount = Object.values(outcomes.errors).reduce((a, b) => a + b, 0);

    recordFigures({
      id: '7',
      scenario: 'RPC server killed mid-request; caller connection dropped',
      test: currentTest(),
      figures: {
        confirmed: total,
        processed: outcomes.ok,
        rejected: errorCount,
        rejectedBy: outcomes.errors,
        lost: outcomes.hung,
        unexpected: outcomes.wrong,
        recoveryMs: firstOkAfterRestart && restartedAt ? firstOkAfterRestart - restartedAt : undefined,
      },
      durationMs: since(started),
      notes:
        `${total} calls (+${warmupOk} warm-up): errors after the server's death ${JSON.stringify(errorsAfterServerDeath)}, ${closed} caller connection(s) closed; ` +
        `slowest error ${maxErrorMs} ms (timeout ${TIMEOUT}); ${outcomes.late} late, ${outcomes.hung} hung, ${outcomes.untyped} untyped; ` +
        `after: heap ${heapDeltaMb >= 0 ? '+' : ''}${heapDeltaMb.toFixed(1)} MB, resources ${JSON.stringify(after.resources)} (before ${JSON.stringify(baseline.resources)}), Warren and amqplib timers ${after.timers.length} (before ${baseline.timers.length}), listeners ${after.listeners} (before ${baseline.listeners})`,
    });

    expect(total).toBeGreaterThanOrEqual(CALLS);
    expect(outcomes.hung).toBe(0);
    expect(outcomes.wrong).toBe(0);
    expect(outcomes.untyped).toBe(0);
    expect(outcomes.late).toBe(0);
    expect(errorsAfterServerDeath.RpcTimeoutError ?? 0).toBeGreaterThan(0);
    expect(outcomes.errors.ConnectionClosedError ?? 0).toBeGreaterThan(0);
    expect(grown).toEqual([]);
    expect(after.listeners).toBe(baseline.listeners);
    expect(heapDeltaMb).toBeLessThan(10);
  });
});
