import { createServer, type Server, type Socket } from 'node:net';
import { Injectable, type INestApplicationContext } from '@nestjs/common';
import {
  AmqpConnection,
  ConnectionFailedError,
  PublishTimeoutError,
  RabbitMQModule,
  RabbitSubscribe,
  RpcTimeoutError,
  type ConnectionStatus,
  type RabbitMQModuleRootOptions,
} from '@warren/rabbitmq';
import { bootExpectingFailure, CapturingLogger, createApp, suiteApps } from './support/app';
import { AMQP_URL, closeConnectionsNamed, rabbitmqctl, uniqueName, waitFor } from './support/broker';

/** A URL to a port nothing listens on. */
const CLOSED_PORT_URL = 'amqp://guest:guest@127.0.0.1:1';

async function clientConnectionNames(): Promise<string> {
  return rabbitmqctl('list_connections', '-q', '--no-table-headers', 'client_properties');
}

/** A TCP server that accepts and drops every connection, counting the attempts: a broker that is "down". */
async function startBlackHole(): Promise<{ server: Server; port: number; attempts: () => number; close: () => Promise<void> }> {
  let attempts = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    attempts++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    attempts: () => attempts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function rootModule(options: RabbitMQModuleRootOptions) {
  return RabbitMQModule.forRoot(options);
}

describe('connection', () => {
  const suite = suiteApps();
  const boot = suite.boot;

  it('shows its connectionName in the broker', async () => {
    const connectionName = uniqueName('conn.named');
    const app = await boot({ imports: [rootModule({ uri: AMQP_URL, connectionName })] });
    expect(app.get(AmqpConnection).isConnected).toBe(true);
    expect(await clientConnectionNames()).toContain(`"${connectionName}"`);
  });

  it('fails over to the next URL of the list when the first is unreachable', async () => {
    const connectionName = uniqueName('conn.failover');
    const started = Date.now();
    const app = await boot({
      imports: [rootModule({ uri: [CLOSED_PORT_URL, AMQP_URL], connectionName, reconnectTimeInSeconds: 0.2, connectionInitOptions: { timeout: 5000 } })],
    });
    expect(app.get(AmqpConnection).isConnected).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await clientConnectionNames()).toContain(`"${connectionName}"`);
  });

  it('sets TCP_NODELAY on the socket by default, and not with noDelay: false', async () => {
    // Node keeps the socket's no-delay state under an internal symbol; amqplib sets it from the option.
    const noDelayOf = (amqp: AmqpConnection): unknown => {
      const socket = (amqp.connection as unknown as { connection: { stream: object } }).connection.stream;
      const symbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'kSetNoDelay');
      expect(symbol).toBeDefined();
      return (socket as Record<symbol, unknown>)[symbol!];
    };
    const fast = await boot({ imports: [rootModule({ uri: AMQP_URL })] });
    const nagle = await boot({ imports: [rootModule({ uri: AMQP_URL, noDelay: false })] });
    expect(noDelayOf(fast.get(AmqpConnection))).toBe(true);
    expect(noDelayOf(nagle.get(AmqpConnection))).toBe(false);
  });

  describe('with wait: true', () => {
    it('fails start-up within its timeout with ConnectionFailedError when the broker is unreachable, and stops retrying', async () => {
      const broker = await startBlackHole();
      try {
        const started = Date.now();
        const error = (await bootExpectingFailure({
          imports: [
            rootModule({
              uri: `amqp://guest:guest@127.0.0.1:${broker.port}`,
              reconnectTimeInSeconds: 0.1,
              connectionInitOptions: { wait: true, timeout: 1000 },
            }),
          ],
        })) as ConnectionFailedError;
        const elapsed = Date.now() - started;
        expect(error).toBeInstanceOf(ConnectionFailedError);
        expect(error.code).toBe('CONNECTION_FAILED');
        expect(error.timeoutMs).toBe(1000);
        expect(error.message).toMatch(/Is the broker running/);
        expect(error.message).toMatch(/rabbitmq-server|docker run/);
        expect(elapsed).toBeGreaterThanOrEqual(900);
        expect(elapsed).toBeLessThan(4000);
        // It did retry while waiting...
        expect(broker.attempts()).toBeGreaterThan(1);
        // ...and stopped when it gave up: no further attempts over many reconnect intervals.
        const attemptsAtFailure = broker.attempts();
        await new Promise((r) => setTimeout(r, 800));
        expect(broker.attempts()).toBe(attemptsAtFailure);
      } finally {
        await broker.close();
      }
    });

    it('fails at once with ACCESS_REFUSED on wrong credentials and never shows the password', async () => {
      const password = 'Sup3rS3cretPw';
      const logger = new CapturingLogger();
      const started = Date.now();
      const error = (await bootExpectingFailure(
        { imports: [rootModule({ uri: `amqp://guest:${password}@127.0.0.1:5672`, connectionInitOptions: { timeout: 10_000 } })] },
        logger,
      )) as ConnectionFailedError;
      expect(error).toBeInstanceOf(ConnectionFailedError);
      expect(error.code).toBe('ACCESS_REFUSED');
      expect(Date.now() - started).toBeLessThan(4000);
      expect(error.message).toMatch(/wrong username or password/);
      const everything = [error.message, String(error.stack), String((error.cause as Error | undefined)?.message), ...error.urls, ...logger.lines].join('\n');
      expect(everything).not.toContain(password);
      expect(error.urls).toEqual(['amqp://guest:***@127.0.0.1:5672']);
    });
  });

  describe('with wait: false and no broker', () => {
    let app: INestApplicationContext;
    let amqp: AmqpConnection;
    const bootedIn: number[] = [];

    beforeAll(async () => {
      const started = Date.now();
      app = await createApp({ imports: [rootModule({ uri: CLOSED_PORT_URL, connectionInitOptions: { wait: false } })] }, new CapturingLogger());
      bootedIn.push(Date.now() - started);
      amqp = app.get(AmqpConnection);
    });

    afterAll(async () => {
      await app?.close();
    });

    it('boots without a connection', () => {
      expect(bootedIn[0]).toBeLessThan(2000);
      expect(amqp.isConnected).toBe(false);
      expect(amqp.status).toBe('connecting');
    });

    it('rejects a publish with PublishTimeoutError after the publish timeout', async () => {
      const started = Date.now();
      const error = (await amqp.publish('amq.topic', 'x', { a: 1 }, { timeout: 300 }).catch((e: unknown) => e)) as PublishTimeoutError;
      const elapsed = Date.now() - started;
      expect(error).toBeInstanceOf(PublishTimeoutError);
      expect(error.timeoutMs).toBe(300);
      expect(error.connected).toBe(false);
      expect(error.message).toMatch(/no connection/);
      expect(elapsed).toBeGreaterThanOrEqual(280);
      expect(elapsed).toBeLessThan(1500);
    });

    it('rejects a request with RpcTimeoutError after the request timeout', async () => {
      const started = Date.now();
      const error = await amqp.request({ exchange: 'amq.topic', routingKey: 'x', payload: 1, timeout: 300 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RpcTimeoutError);
      expect(Date.now() - started).toBeLessThan(1500);
    });

    it('closes promptly while still trying to connect', async () => {
      const started = Date.now();
      await app.close();
      expect(Date.now() - started).toBeLessThan(2000);
      expect(amqp.status).toBe('closed');
    });
  });

  describe('when the broker closes the connection', () => {
    const queue = uniqueName('conn.reconnect');
    const connectionName = uniqueName('conn.reconnect');

    @Injectable()
    class Consumer {
      readonly received: unknown[] = [];
      @RabbitSubscribe({ queue })
      on(payload: unknown): void {
        this.received.push(payload);
      }
    }

    let app: INestApplicationContext;

    beforeAll(async () => {
      suite.admin.track('queue', queue);
      app = await boot({ imports: [rootModule({ uri: AMQP_URL, connectionName, reconnectTimeInSeconds: 0.2 })], providers: [Consumer] }, new CapturingLogger());
    });

    it('emits connected, disconnected, connected on status$ and consumes again after the reconnect', async () => {
      const amqp = app.get(AmqpConnection);
      const statuses: ConnectionStatus[] = [];
      const subscription = amqp.status$.subscribe((s) => statuses.push(s));
      try {
        expect(await closeConnectionsNamed(connectionName)).toBe(1);
        await waitFor(() => statuses.length >= 3, 'a reconnect', 10_000);
        expect(statuses.slice(0, 3)).toEqual(['connected', 'disconnected', 'connected']);
        expect(amqp.isConnected).toBe(true);
        await waitFor(async () => (await suite.admin.consumerCount(queue)) === 1, 'the consumer to re-subscribe');
        await amqp.publish('', queue, { after: 'reconnect' });
        await waitFor(() => app.get(Consumer).received.length === 1, 'the message published after the reconnect');
        expect(app.get(Consumer).received).toEqual([{ after: 'reconnect' }]);
      } finally {
        subscription.unsubscribe();
      }
    });
  });
});
