import { connect } from 'node:net';
import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { AmqpConnection, RabbitMQModule, RabbitSubscribe, type ConnectionStatus } from '@warren/rabbitmq';
import { PrometheusTelemetry } from '@warren/rabbitmq/prometheus';
import { RabbitMQHealthIndicator } from '@warren/rabbitmq/terminus';
import { Registry } from 'prom-client';
import { createApp } from '../support/app';
import { FaultLogger } from './support/capture';
import { faultUrl } from './support/fault-env';
import { recordFigures, since } from './support/figures';
import { currentTest, faultName, resetLogger } from './support/harness';
import { NodeAdmin } from './support/node-admin';
import { amqpPort, ensureSolo, nodeCtl, stopNode } from './support/nodes';
import { until } from './support/stream';
import { ResourceTracker } from './support/tcp-proxy';

const PUBLISH_TIMEOUT = 1_500;
const SHUTDOWN_TIMEOUT = 2_000;
/** What app.close() may take beyond shutdownTimeout: Nest's own hooks, the socket's close. */
const CLOSE_MARGIN = 750;
/** How long the spec waits for app.close() before it clears the alarm to let it finish. */
const CLOSE_LIMIT = SHUTDOWN_TIMEOUT * 4;
/** The solo node's own limits (cluster.sh writes them into its config); restored after each alarm. */
const MEMORY_LIMIT = String(1024 ** 3);
const DISK_LIMIT = '50MB';

type Alarm = 'memory' | 'disk';

/** Raises or clears a resource alarm on the solo node by moving its limit past what it has. */
async function setAlarm(alarm: Alarm, on: boolean): Promise<void> {
  if (alarm === 'memory') await nodeCtl('solo', 'set_vm_memory_high_watermark', 'absolute', on ? '1' : MEMORY_LIMIT);
  else await nodeCtl('solo', 'set_disk_free_limit', on ? '1000GB' : DISK_LIMIT);
}

/** The node's alarms as rabbit_alarm reports them, e.g. "[{{resource_limit,memory,'warren-fsolo@localhost'},[]}]". */
function alarms(): Promise<string> {
  return nodeCtl('solo', '-q', 'eval', 'rabbit_alarm:get_alarms().');
}

async function alarmIs(alarm: Alarm, on: boolean, timeoutMs = 15_000): Promise<boolean> {
  return until(async () => (await alarms()).includes(`resource_limit,${alarm},`) === on, timeoutMs, 200);
}

/**
 * The broker's state of the connection named `connectionName` ('running', 'blocking', 'blocked',
 * ...), or undefined when the broker lists no such connection (rabbitmqctl is answered during alarms).
 */
async function brokerState(connectionName: string): Promise<string | undefined> {
  const out = await nodeCtl('solo', '-q', 'list_connections', 'state', 'client_properties', '--no-table-headers');
  const line = out.split('\n').find((l) => l.includes(connectionName));
  return line?.split('\t')[0].trim();
}

function appModule(exchange: string, queue: string, connectionName: string, registry: Registry) {
  @Injectable()
  class Sink {
    readonly seen: string[] = [];

    @RabbitSubscribe({ exchange, routingKey: queue, queue })
    handle(message: { id: string }): void {
      this.seen.push(message.id);
    }
  }

  return {
    Sink,
    metadata: {
      imports: [
        TerminusModule,
        RabbitMQModule.forRoot({
          uri: faultUrl(amqpPort('solo')),
          connectionName,
          exchanges: [{ name: exchange, type: 'direct' as const }],
          publishOptions: { timeout: PUBLISH_TIMEOUT },
          shutdownTimeout: SHUTDOWN_TIMEOUT,
          telemetry: [new PrometheusTelemetry({ registry })],
        }),
      ],
      providers: [Sink, RabbitMQHealthIndicator],
    },
  };
}

/** A publish's outcome as a label: 'confirmed' or the error's code. */
function outcome(publish: Promise<void>): Promise<string> {
  return publish.then(
    () => 'confirmed',
    (error: unknown) => String((error as { code?: unknown }).code ?? error),
  );
}

/**
 * RabbitMQ blocks every connection that publishes while a memory or disk alarm lasts
 * (connection.blocked) and reads nothing more from it until the alarm clears. The client must
 * say so (status, health, metrics), keep the connection and its consumers, and still shut down
 * on time: the broker answers no channel or connection close while it blocks the connection.
 */
describe('fault 12: the broker blocks publishers (memory and disk alarms)', () => {
  const exchange = faultName('blocked.x');
  const queue = faultName('blocked.q');
  let skip: string | undefined;
  let startedNode = false;
  let admin: NodeAdmin | undefined;
  /** Every app booted, closed in afterAll (a failed assertion must not leave one connected). */
  const apps = new Set<INestApplicationContext>();
  const boot = async (metadata: Parameters<typeof createApp>[0], source: string): Promise<INestApplicationContext> => {
    const app = await createApp(metadata, new FaultLogger(source));
    apps.add(app);
    return app;
  };

  beforeAll(async () => {
    // A node of our own: an alarm on the default broker would block every other suite's publishers.
    startedNode = !(await nodeAnswers());
    skip = await ensureSolo();
    if (skip) {
      process.stdout.write(`[faults] scenario 12 skipped: ${skip}\n`);
      return;
    }
    admin = await NodeAdmin.connect(faultUrl(amqpPort('solo')));
  });

  afterAll(async () => {
    if (!skip) {
      await setAlarm('memory', false).catch(() => undefined);
      await setAlarm('disk', false).catch(() => undefined);
    }
    for (const app of apps) await app.close().catch(() => undefined);
    await admin?.deleteQueue(queue);
    await admin?.deleteExchange(exchange);
    await admin?.close();
    if (!skip && startedNode && !process.env.WARREN_FAULT_KEEP_NODES) await stopNode('solo').catch(() => undefined);
    resetLogger();
  });

  it('reports blocked with the reason (status$, health, metrics) while an alarm lasts, and connected again when it clears', async () => {
    const started = Date.now();
    if (skip) {
      recordFigures({ id: '12a', scenario: 'memory / disk alarm: blocked state', test: currentTest(), durationMs: since(started), skipped: skip });
      return;
    }
    const registry = new Registry();
    const { Sink, metadata } = appModule(exchange, queue, faultName('blocked-app'), registry);
    const app = await boot(metadata, 'fault-12a');
    const amqp = app.get(AmqpConnection);
    const health = app.get(RabbitMQHealthIndicator);
    const sink = app.get(Sink);
    const statuses: ConnectionStatus[] = [];
    const subscription = amqp.status$.subscribe((status) => statuses.push(status));
    const healthy = await health.isHealthy('rabbitmq');

    const seen: Record<
      Alarm,
      {
        raised?: boolean;
        reason?: unknown;
        health?: Record<string, unknown>;
        connected?: boolean;
        gauge?: string;
        publish?: string;
        blockedMs?: number;
        clearedMs?: number;
      }
    > = {
      memory: {},
      disk: {},
    };
    for (const alarm of ['memory', 'disk'] as const) {
      const observed = seen[alarm];
      await setAlarm(alarm, true);
      observed.raised = await alarmIs(alarm, true);
      // The broker blocks a connection when it publishes, not before.
      const t0 = Date.now();
      const first = outcome(amqp.publish(exchange, queue, { id: `${alarm}-1` }));
      const blocked = await until(() => amqp.status === 'blocked', 10_000);
      observed.blockedMs = Date.now() - t0;
      const result = await health.isHealthy('rabbitmq');
      observed.health = result.rabbitmq;
      observed.reason = result.rabbitmq.reason;
      observed.connected = amqp.isConnected;
      observed.gauge = (await registry.metrics()).split('\n').find((line) => line.startsWith('warren_connection_blocked{'));
      observed.publish = await first;

      await setAlarm(alarm, false);
      const t1 = Date.now();
      const unblocked = await until(() => amqp.status === 'connected', 15_000);
      observed.clearedMs = Date.now() - t1;
      expect([observed.raised, blocked, unblocked]).toEqual([true, true, true]);
    }
    const healthyAgain = await health.isHealthy('rabbitmq');
    const gaugeAfter = (await registry.metrics()).split('\n').find((line) => line.startsWith('warren_connection_blocked{'));
    // What was written before each block is taken once it clears; the consumer gets it on the same connection.
    const delivered = await until(() => sink.seen.length === 2, 10_000);
    subscription.unsubscribe();

    recordFigures({
      id: '12a',
      scenario: 'memory / disk alarm: blocked state',
      test: currentTest(),
      durationMs: since(started),
      notes:
        `statuses ${statuses.join(' → ')}; reasons: memory '${String(seen.memory.reason)}', disk '${String(seen.disk.reason)}'; ` +
        `blocked ${seen.memory.blockedMs} / ${seen.disk.blockedMs} ms after the first publish, connected ${seen.memory.clearedMs} / ${seen.disk.clearedMs} ms after the alarm cleared; ` +
        `publish written before the block: ${seen.memory.publish} / ${seen.disk.publish}; consumer got ${sink.seen.length}/2 after the alarms`,
    });

    expect(healthy.rabbitmq.status).toBe('up');
    expect(statuses).toEqual(['connected', 'blocked', 'connected', 'blocked', 'connected']);
    for (const alarm of ['memory', 'disk'] as const) {
      const observed = seen[alarm];
      expect(observed.reason).toBe(alarm === 'memory' ? 'low on memory' : 'low on disk');
      expect(observed.health).toMatchObject({ status: 'down', state: 'blocked', reason: observed.reason });
      expect(String(observed.health?.message)).toContain('blocks publishing');
      // Blocked is not disconnected: the connection and its consumers stay.
      expect(observed.connected).toBe(true);
      expect(observed.gauge).toMatch(/ 1$/);
    }
    expect(healthyAgain.rabbitmq).toMatchObject({ status: 'up', state: 'connected' });
    expect(gaugeAfter).toMatch(/ 0$/);
    expect(delivered).toBe(true);
    await app.close();
    apps.delete(app);
  });

  it('app.close() while blocked finishes within shutdownTimeout and leaves no socket or timer behind', async () => {
    const started = Date.now();
    if (skip) {
      recordFigures({ id: '12b', scenario: 'memory alarm: app.close() while blocked', test: currentTest(), durationMs: since(started), skipped: skip });
      return;
    }
    const connectionName = faultName('blocked-close');
    const tracker = new ResourceTracker();
    tracker.begin();
    const registry = new Registry();
    const { metadata } = appModule(exchange, queue, connectionName, registry);
    const app = await boot(metadata, 'fault-12b');
    const amqp = app.get(AmqpConnection);

    await setAlarm('memory', true);
    expect(await alarmIs('memory', true)).toBe(true);
    const pending = outcome(amqp.publish(exchange, queue, { id: 'close-1' }));
    // The broker's word for it, not the client's: this scenario is about the close.
    const blocked = await until(async () => (await brokerState(connectionName)) === 'blocked', 10_000, 250);
    expect(blocked).toBe(true);

    const t0 = Date.now();
    const closing = app.close().then(() => Date.now() - t0);
    const closeMs = await within(closing, CLOSE_LIMIT);
    if (closeMs === undefined) {
      // Still waiting on the broker: clear the alarm so the close can finish and nothing leaks into later specs.
      await setAlarm('memory', false);
      await closing.catch(() => undefined);
    }
    apps.delete(app);
    tracker.freeze();
    const publish = await pending;
    const status = amqp.status;
    // Give destroyed handles their turn to report it before counting what is left.
    await until(() => Object.keys(tracker.remaining()).length === 0, 2_000);
    const left = tracker.remaining();
    tracker.stop();
    const stillOnBroker = (await brokerState(connectionName)) !== undefined;

    await setAlarm('memory', false);
    expect(await alarmIs('memory', false)).toBe(true);
    const goneAfterAlarm = await until(async () => (await brokerState(connectionName)) === undefined, 15_000, 250);

    recordFigures({
      id: '12b',
      scenario: 'memory alarm: app.close() while blocked',
      test: currentTest(),
      durationMs: since(started),
      notes:
        `app.close() took ${closeMs ?? `over ${CLOSE_LIMIT}`} ms (shutdownTimeout ${SHUTDOWN_TIMEOUT}); status after: ${status}; the publish in flight: ${publish}; ` +
        `left behind: ${JSON.stringify(left)}; broker still listed the connection ${stillOnBroker ? 'until the alarm cleared' : 'no longer'}`,
    });

    expect(closeMs).toBeDefined();
    expect(closeMs).toBeLessThanOrEqual(SHUTDOWN_TIMEOUT + CLOSE_MARGIN);
    expect(status).toBe('closed');
    expect(publish).not.toBe('confirmed');
    expect(left).toEqual({});
    expect(goneAfterAlarm).toBe(true);
  });
});

/** `promise`'s value, or undefined if it takes longer than `ms`; the timer is cleared either way. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether the solo node is up already (another scenario, or a kept node): then it is not ours to stop. */
function nodeAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(amqpPort('solo'), '127.0.0.1');
    socket.setTimeout(1_000);
    const done = (up: boolean): void => {
      socket.destroy();
      resolve(up);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}
