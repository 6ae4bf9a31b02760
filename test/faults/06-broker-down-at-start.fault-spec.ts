import type { INestApplicationContext } from '@nestjs/common';
import { ConnectionFailedError, MemoryDedupStore } from '@warren/rabbitmq';
import { bootExpectingFailure } from '../support/app';
import { BrokerAdmin } from '../support/broker';
import { captureError, FaultLogger } from './support/capture';
import { TotalQueueChecker } from './support/checker';
import { DEFAULT_HOST, DEFAULT_PORT, faultCredentials, faultUrl } from './support/fault-env';
import { recordFigures, since } from './support/figures';
import { bootApp, currentTest, faultName, RECORDER, recorderModule, resetLogger } from './support/harness';
import { PublishStream, sleep, until } from './support/stream';
import { ResourceTracker, TcpProxy } from './support/tcp-proxy';

const MESSAGES = 12_000;
const OUTAGE_MS = 3_000;
const INIT_TIMEOUT = 2_000;

/** The application talks to the broker through a proxy the test controls. */
describe('fault 6: the broker is down when the application starts', () => {
  const exchange = faultName('down.x');
  const queue = faultName('down.q');
  let admin: BrokerAdmin;
  let proxy: TcpProxy;
  let app: INestApplicationContext | undefined;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange);
    admin.track('queue', queue, `${queue}.dlq`);
    proxy = await TcpProxy.create({ host: DEFAULT_HOST, port: DEFAULT_PORT });
  });

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await proxy.close();
    await admin.close();
    resetLogger();
  });

  it('with wait: false it boots at once, accepts publishes, and processes everything when the broker arrives', async () => {
    const started = Date.now();
    await proxy.setMode('refuse');
    const checker = new TotalQueueChecker();
    const bootStarted = Date.now();
    const booted = await bootApp(
      recorderModule(
        {
          uri: faultUrl(proxy.port),
          connectionName: faultName('down-app'),
          connectionInitOptions: { wait: false, timeout: INIT_TIMEOUT },
          exchanges: [{ name: exchange, type: 'direct' }],
          publishOptions: { timeout: 15_000 },
        },
        { exchange, queue, checker, prefetch: 50, workMs: 1, deadLetter: true, dedup: { store: new MemoryDedupStore() } },
      ),
      'fault-6a',
    );
    const bootMs = Date.now() - bootStarted;
    app = booted.app;
    const { amqp } = booted;
    const connectedAtBoot = amqp.isConnected;

    // Every publish is accepted and waits for the broker: all of them are in flight during the outage.
    const stream = new PublishStream({
      count: MESSAGES,
      prefix: 'dn-',
      window: MESSAGES,
      checker,
      publish: (id) => amqp.publish(exchange, queue, { id }, { messageId: id }),
    });
    await sleep(OUTAGE_MS);
    const fault = checker.faultStarted('broker unreachable at start-up');
    await proxy.setMode('forward');
    checker.faultCleared(fault);
    const connected = await until(() => amqp.isConnected, 10_000);
    checker.reconnected();
    await stream.done;
    await until(() => checker.settled, 30_000);
    await sleep(300);
    checker.addAbsorbed(amqp.getHandlerStats()[RECORDER].duplicates);
    const figures = checker.report();

    recordFigures({
      id: '6a',
      scenario: 'broker down at start-up, wait: false',
      test: currentTest(),
      figures: { ...figures, inFlightAtFault: MESSAGES },
      durationMs: since(started),
      notes: `booted in ${bootMs} ms without a broker; ${MESSAGES} publishes waited ${OUTAGE_MS / 1000} s for it; unsettled ${figures.unsettled}`,
    });
    await app.close();
    app = undefined;

    expect(connectedAtBoot).toBe(false);
    expect(bootMs).toBeLessThan(INIT_TIMEOUT);
    expect(connected).toBe(true);
    expect(figures.unsettled).toBe(0);
    expect(figures.rejected).toBe(0);
    expect(figures.lost).toBe(0);
    expect(figures.unexpected).toBe(0);
    expect(figures.duplicateSideEffects).toBe(0);
  });

  it('with wait: true it fails within its timeout with a clear error and leaves nothing running (refused and black-holed)', async () => {
    const started = Date.now();
    const outcomes: string[] = [];
    const problems: string[] = [];
    // A port whose number contains "403" once passed for an ACCESS_REFUSED reply (fail-fast as "wrong password").
    const port403 = await TcpProxy.create({ host: DEFAULT_HOST, port: DEFAULT_PORT }, [40339, 40399, 14030, 24031, 34032]).catch(() => undefined);
    const variants: Array<{ mode: 'refuse' | 'blackhole'; via: TcpProxy; label: string }> = [
      { mode: 'refuse', via: proxy, label: 'refuse' },
      { mode: 'blackhole', via: proxy, label: 'blackhole' },
      ...(port403 ? [{ mode: 'refuse' as const, via: port403, label: `refuse on port ${port403.port}` }] : []),
    ];
    for (const { mode, via, label } of variants) {
      const proxy = via;
      await proxy.setMode(mode);
      const tracker = new ResourceTracker();
      tracker.begin();
      const logger = new FaultLogger(`fault-6b-${label}`);
      const t0 = Date.now();
      const error = await bootExpectingFailure(
        recorderModule(
          {
            uri: faultUrl(proxy.port),
            connectionName: faultName('down-wait'),
            connectionInitOptions: { wait: true, timeout: INIT_TIMEOUT },
            exchanges: [{ name: exchange, type: 'direct' }],
          },
          { exchange, queue: faultName('down.never'), checker: new TotalQueueChecker() },
        ),
        logger,
      );
      const elapsed = Date.now() - t0;
      tracker.freeze();
      captureError(`fault-6b-${label}`, error);
      const acceptedAtFailure = proxy.accepted;
      // Nothing keeps trying: let the broker "arrive" and count connection attempts.
      await proxy.setMode('forward');
      await sleep(1_500); // reconnectTimeInSeconds is 1: a retry would come within it
      const lateAttempts = proxy.accepted - acceptedAtFailure;
      const openAfter = proxy.openConnections;
      await proxy.setMode('refuse');
      await sleep(100);
      // Timers and sockets the failed start-up created that still exist.
      const left = tracker.remaining();
      tracker.stop();
      const leaked = Object.entries(left).map(([kind, n]) => `${n} ${kind}`);
      const message = error instanceof Error ? error.message : String(error);
      outcomes.push(`${label}: ${error instanceof ConnectionFailedError ? `ConnectionFailedError (${error.reason})` : String(error)} after ${elapsed} ms`);

      if (!(error instanceof ConnectionFailedError)) problems.push(`${label}: not a ConnectionFailedError: ${message}`);
      if (error instanceof ConnectionFailedError && error.reason !== 'timeout') problems.push(`${label}: reason '${error.reason}', expected 'timeout'`);
      if (elapsed < INIT_TIMEOUT - 100 || elapsed > INIT_TIMEOUT + 1_000) problems.push(`${label}: took ${elapsed} ms (timeout ${INIT_TIMEOUT})`);
      if (!/could not connect within 2000 ms/.test(message) || !/wait: false/.test(message)) problems.push(`${label}: unclear message: ${message}`);
      if (message.includes(faultCredentials().password)) problems.push(`${label}: the message shows the password`);
      if (lateAttempts > 0) problems.push(`${label}: ${lateAttempts} connection attempt(s) after start-up failed`);
      if (openAfter > 0) problems.push(`${label}: ${openAfter} connection(s) still open after start-up failed`);
      if (leaked.length > 0) problems.push(`${label}: left behind: ${leaked.join(', ')}`);
    }
    await port403?.close();
    recordFigures({
      id: '6b',
      scenario: 'broker down at start-up, wait: true',
      test: currentTest(),
      durationMs: since(started),
      notes: `${outcomes.join('; ')}; ${problems.length ? `PROBLEMS: ${problems.join(' | ')}` : 'no retries, sockets or timers left behind'}`,
    });
    expect(problems).toEqual([]);
  });
});
