import { Injectable, type INestApplicationContext } from '@nestjs/common';
import {
  AmqpConnection,
  ConnectionClosedError,
  ConnectionNotStartedError,
  DeadLetterService,
  InvalidOptionsError,
  RabbitMQModule,
  RpcRemoteError,
  TopologyError,
  type ConsumeOutcome,
  type ConsumerHandle,
} from '@warren/rabbitmq';
import { resolveOptions } from '@warren/rabbitmq/options/resolve-options';
import { createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, closeConnectionsNamed, uniqueName, waitFor } from './support/broker';

const exchange = uniqueName('runtime.x');
const prefix = uniqueName('tenants');
const connectionName = uniqueName('runtime-conn');

interface TenantEvent {
  tenant: string;
  n: number;
}

/** One queue per tenant, created when the tenant signs up (the example of docs/consuming.md). */
@Injectable()
class TenantQueues {
  readonly handled: TenantEvent[] = [];
  readonly consumers = new Map<string, ConsumerHandle>();

  constructor(private readonly amqp: AmqpConnection) {}

  async onTenantSignedUp(tenant: string): Promise<void> {
    const handle = await this.amqp.subscribe<TenantEvent>(
      { exchange, routingKey: `tenant.${tenant}.#`, queue: `${prefix}.${tenant}`, retry: { maxAttempts: 2, backoff: { type: 'fixed', delay: 50 } } },
      (event) => {
        if (event.n < 0) throw new Error(`tenant ${tenant}: negative event`);
        this.handled.push(event);
      },
    );
    this.consumers.set(tenant, handle);
  }

  async onTenantLeft(tenant: string): Promise<void> {
    await this.consumers.get(tenant)?.cancel({ deleteQueue: true });
    this.consumers.delete(tenant);
  }
}

describe('consumers added at run time', () => {
  let app: INestApplicationContext;
  let admin: BrokerAdmin;
  let amqp: AmqpConnection;
  let tenants: TenantQueues;
  let deadLetters: DeadLetterService;
  const outcomes: Array<{ queue: string; outcome: ConsumeOutcome }> = [];

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange);
    for (const tenant of ['acme', 'globex', 'initech', 'umbrella']) admin.track('queue', `${prefix}.${tenant}`, `${prefix}.${tenant}.dlq`);
    app = await createApp({
      imports: [
        RabbitMQModule.forRoot({
          uri: AMQP_URL,
          connectionName,
          exchanges: [{ name: exchange, type: 'topic' }],
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
      providers: [TenantQueues],
    });
    amqp = app.get(AmqpConnection);
    tenants = app.get(TenantQueues);
    deadLetters = app.get(DeadLetterService);
  });

  afterAll(async () => {
    await app?.close();
    await admin?.close();
  });

  it('consumes one queue per tenant, created at sign-up, with retry, dead letters, telemetry and statistics like a decorated handler', async () => {
    await tenants.onTenantSignedUp('acme');
    await tenants.onTenantSignedUp('globex');
    expect(await admin.consumerCount(`${prefix}.acme`)).toBe(1);
    await amqp.publish(exchange, 'tenant.acme.order', { tenant: 'acme', n: 1 });
    await amqp.publish(exchange, 'tenant.globex.order', { tenant: 'globex', n: 2 });
    // A handler that throws synchronously: retried, then dead-lettered; the tenant's other messages go on.
    await amqp.publish(exchange, 'tenant.acme.order', { tenant: 'acme', n: -1 });
    await amqp.publish(exchange, 'tenant.acme.order', { tenant: 'acme', n: 3 });
    await waitFor(() => tenants.handled.length === 3, 'three events handled');
    expect(tenants.handled.filter((e) => e.tenant === 'acme').map((e) => e.n)).toEqual([1, 3]);
    await waitFor(async () => (await deadLetters.count(`${prefix}.acme.dlq`)) === 1, 'the bad event dead-lettered');
    const [parked] = await deadLetters.peek(`${prefix}.acme.dlq`);
    expect(parked.reason).toMatchObject({ errorMessage: 'tenant acme: negative event', attempts: 2, handler: `${prefix}.acme` });
    expect(amqp.getHandlerStats()[`${prefix}.acme`]).toMatchObject({ handled: 2, retried: 1, deadLettered: 1 });
    expect(outcomes.filter((o) => o.queue === `${prefix}.acme`).map((o) => o.outcome)).toEqual(expect.arrayContaining(['acked', 'retried', 'dead-lettered']));

    await tenants.onTenantLeft('globex');
    expect(await admin.queueExists(`${prefix}.globex`)).toBe(false);
    expect(amqp.getHandlerStats()[`${prefix}.globex`]).toBeUndefined();
  });

  it('re-subscribes a run-time consumer after the connection is closed by the broker', async () => {
    await tenants.onTenantSignedUp('initech');
    expect(await closeConnectionsNamed(connectionName)).toBeGreaterThan(0);
    await waitFor(async () => amqp.isConnected && (await admin.consumerCount(`${prefix}.initech`)) === 1, 'consuming again', 20_000);
    await amqp.publish(exchange, 'tenant.initech.order', { tenant: 'initech', n: 7 });
    await waitFor(() => tenants.handled.some((e) => e.tenant === 'initech' && e.n === 7), 'handled after the reconnect');
  });

  it('resolves subscribe() at once while the connection is down, and starts consuming on reconnect', async () => {
    const queue = uniqueName('runtime.down');
    admin.track('queue', queue);
    const seen: unknown[] = [];
    expect(await closeConnectionsNamed(connectionName)).toBeGreaterThan(0);
    await waitFor(() => !amqp.isConnected, 'the connection seen down');
    const handle = await amqp.subscribe({ queue }, (payload) => {
      seen.push(payload);
    });
    expect(handle.consumerTag).toBeUndefined();
    await waitFor(async () => (await admin.consumerCount(queue)) === 1, 'consuming after the reconnect', 20_000);
    expect(handle.consumerTag).toMatch(/\S/);
    await amqp.publish('', queue, { late: true });
    await waitFor(() => seen.length === 1, 'handled');
    await handle.cancel();
  });

  it('answers requests with a run-time RPC handler, and sends its error to the caller', async () => {
    const queue = uniqueName('runtime.rpc');
    admin.track('queue', queue);
    const handle = await amqp.rpc<{ a: number; b: number }, number>({ exchange, routingKey: `${queue}.sum`, queue }, ({ a, b }) => {
      if (a < 0) throw new Error('negative');
      return a + b;
    });
    try {
      await expect(amqp.request({ exchange, routingKey: `${queue}.sum`, payload: { a: 2, b: 3 } })).resolves.toBe(5);
      await expect(amqp.request({ exchange, routingKey: `${queue}.sum`, payload: { a: -1, b: 3 } })).rejects.toBeInstanceOf(RpcRemoteError);
    } finally {
      await handle.cancel();
    }
  });

  it("offers golevelup's createSubscriber, createBatchSubscriber and createRpc, whose results carry a consumerTag", async () => {
    const queue = uniqueName('runtime.golevelup');
    admin.track('queue', queue, `${queue}.batch`, `${queue}.rpc`);
    const single: unknown[] = [];
    const batches: unknown[][] = [];
    const sub = await amqp.createSubscriber(
      async (msg: unknown) => {
        single.push(msg);
      },
      { exchange, routingKey: `${queue}.one`, queue },
      'Legacy.onOne',
    );
    const batch = await amqp.createBatchSubscriber(
      async (msgs: unknown[]) => {
        batches.push(msgs);
      },
      { exchange, routingKey: `${queue}.many`, queue: `${queue}.batch`, batchOptions: { size: 3, timeout: 100 } },
    );
    const rpc = await amqp.createRpc(async (msg: { x: number } | undefined) => ({ doubled: (msg?.x ?? 0) * 2 }), {
      exchange,
      routingKey: `${queue}.rpc`,
      queue: `${queue}.rpc`,
    });
    try {
      for (const result of [sub, batch, rpc]) expect(result.consumerTag).toMatch(/\S/);
      expect(sub.name).toBe(`Legacy.onOne@${queue}`);
      await amqp.publish(exchange, `${queue}.one`, { hello: 1 });
      for (let n = 0; n < 4; n++) await amqp.publish(exchange, `${queue}.many`, { n });
      await expect(amqp.request({ exchange, routingKey: `${queue}.rpc`, payload: { x: 21 } })).resolves.toEqual({ doubled: 42 });
      await waitFor(() => single.length === 1 && batches.flat().length === 4, 'delivered');
      expect(batches.every((b) => b.length <= 3)).toBe(true);
    } finally {
      await Promise.all([sub.cancel(), batch.cancel(), rpc.cancel()]);
    }
  });

  it('lets cancel() finish a handler in flight and settle its message, and is safe to call twice', async () => {
    const queue = uniqueName('runtime.cancel');
    admin.track('queue', queue);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    let finished = 0;
    const handle = await amqp.subscribe({ queue }, async () => {
      started++;
      await gate;
      finished++;
    });
    await amqp.publish('', queue, { n: 1 });
    await waitFor(() => started === 1, 'handler started');
    const first = handle.cancel();
    const second = handle.cancel();
    expect(second).toBe(first);
    expect(handle.isCancelled).toBe(true);
    setTimeout(release, 200);
    await first;
    expect(finished).toBe(1);
    // Acked, not returned to the queue; nobody consumes it any more.
    expect(await admin.messageCount(queue)).toBe(0);
    expect(await admin.consumerCount(queue)).toBe(0);
    await amqp.publish('', queue, { n: 2 });
    await waitFor(async () => (await admin.messageCount(queue)) === 1, 'a later message stays in the queue');
    expect(started).toBe(1);
  });

  it('rejects invalid options and a name in use with InvalidOptionsError, leaving nothing behind and every other consumer running', async () => {
    const queue = uniqueName('runtime.invalid');
    await tenants.onTenantSignedUp('umbrella');
    const error = await amqp
      .subscribe({ queue, retry: { maxAttempts: 0 }, batch: { size: 100 } }, () => undefined)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(InvalidOptionsError);
    const problems = (error as InvalidOptionsError).problems.join('\n');
    expect(problems).toContain('maxAttempts must be an integer >= 1');
    expect(problems).toContain('batch.size is 100 but prefetchCount is 10');
    expect(await admin.queueExists(queue)).toBe(false);

    const duplicate = await amqp
      .subscribe({ queue: `${prefix}.umbrella` }, () => undefined)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(duplicate).toBeInstanceOf(InvalidOptionsError);
    expect((duplicate as InvalidOptionsError).problems[0]).toContain(`${prefix}.umbrella: a consumer of this name exists already`);

    // The same shape check as a decorated handler's options: a typo and a wrong type, at any depth.
    const typo = await amqp
      .subscribe({ queue, prefetchCount: 5, queueOptions: { durabel: true } } as never, () => undefined)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(typo).toBeInstanceOf(InvalidOptionsError);
    expect((typo as InvalidOptionsError).unknownOptions.map((u) => u.path.replace(/^.*: /, ''))).toEqual(['prefetchCount', 'queueOptions.durabel']);
    expect((typo as InvalidOptionsError).problems.join('\n')).toContain('did you mean queueOptions.durable?');
    expect(await admin.queueExists(queue)).toBe(false);

    // golevelup's names mean what they mean on a decorated handler: createQueueIfNotExists: false only checks the queue.
    const missing = await amqp
      .createSubscriber(() => undefined, { queue, createQueueIfNotExists: false }, 'Missing.handle')
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(missing).toBeInstanceOf(Error);
    expect(await admin.queueExists(queue)).toBe(false);

    const notAFunction = await amqp.subscribe({ queue }, 'nope' as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((notAFunction as InvalidOptionsError).problems[0]).toContain('the handler must be a function');

    // The tenant consumer still works.
    await amqp.publish(exchange, 'tenant.umbrella.order', { tenant: 'umbrella', n: 9 });
    await waitFor(() => tenants.handled.some((e) => e.tenant === 'umbrella'), 'umbrella handled');
  });

  it('rejects the declaration error of a queue that cannot be declared, and leaves no consumer retrying it', async () => {
    const queue = uniqueName('runtime.conflict');
    admin.track('queue', queue);
    await admin.raw((ch) => ch.assertQueue(queue, { durable: true, arguments: { 'x-max-length': 5 } }));
    const error = await amqp
      .subscribe({ queue, queueOptions: { maxLength: 10 } }, () => undefined)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(TopologyError);
    expect((error as TopologyError).message).toContain("it already exists with x-max-length = '5'");
    expect(amqp.getHandlerStats()[queue]).toBeUndefined();
    expect(await admin.consumerCount(queue)).toBe(0);
  });

  it('rejects subscribe() on a connection that was never started with ConnectionNotStartedError', async () => {
    const idle = new AmqpConnection(resolveOptions({ uri: AMQP_URL, name: 'never-started' }));
    await expect(idle.subscribe({ queue: 'q' }, () => undefined)).rejects.toBeInstanceOf(ConnectionNotStartedError);
    await expect(idle.createRpc(async () => 1, { queue: 'q' })).rejects.toThrow(/has not been started/);
    await idle.close();
  });
});

describe('consumers added at run time while the application shuts down', () => {
  let app: INestApplicationContext | undefined;
  let admin: BrokerAdmin;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
  });

  afterAll(async () => {
    await app?.close();
    await admin?.close();
  });

  it('rejects a consumer added once shutdown has begun with ConnectionClosedError, and opens no consumer on the broker', async () => {
    const busy = uniqueName('runtime.shutdown.busy');
    const late = uniqueName('runtime.shutdown.late');
    const lateQueues = [late, `${late}.rpc`, `${late}.batch`];
    admin.track('queue', busy, ...lateQueues);
    for (const queue of lateQueues) await admin.raw((ch) => ch.assertQueue(queue, { durable: true }));
    app = await createApp({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName: uniqueName('runtime-shutdown'), shutdownTimeout: 10_000 })] });
    const amqp = app.get(AmqpConnection);

    // A handler in flight keeps the drain (ConsumerRegistry.stop) going while the late consumers are added.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = false;
    await amqp.subscribe({ queue: busy }, async () => {
      started = true;
      await gate;
    });
    await amqp.publish('', busy, { n: 1 });
    await waitFor(() => started, 'the busy handler started');

    const closing = app.close();
    app = undefined;
    // The drain has begun once the busy consumer is cancelled on the broker.
    await waitFor(async () => (await admin.consumerCount(busy)) === 0, 'the busy consumer cancelled');
    try {
      const attempts = [
        amqp.subscribe({ queue: late }, () => undefined),
        amqp.createRpc(async () => 1, { queue: `${late}.rpc` }),
        amqp.createBatchSubscriber(async () => undefined, { queue: `${late}.batch`, batchOptions: { size: 2, timeout: 50 } }),
      ];
      for (const attempt of attempts) {
        const error = await attempt.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(ConnectionClosedError);
        expect((error as ConnectionClosedError).code).toBe('CONNECTION_CLOSED');
        expect((error as ConnectionClosedError).message).toContain('shutting down');
      }
      for (const queue of lateQueues) expect(await admin.consumerCount(queue)).toBe(0);
    } finally {
      release();
      await closing;
    }
    for (const queue of lateQueues) expect(await admin.consumerCount(queue)).toBe(0);
    // The busy handler finished during the drain and its message was acked.
    expect(await admin.messageCount(busy)).toBe(0);
  });
});
