import { Injectable, type INestApplicationContext } from '@nestjs/common';
import type { ConsumeMessage } from 'amqplib';
import { AmqpConnection, Nack, RabbitMQModule, RabbitSubscribe, TopologyError, UnroutableMessageError } from '@warren/rabbitmq';
import { CapturingLogger, createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, closeConnectionsNamed, rabbitmqctl, uniqueName, waitFor } from './support/broker';

const directX = uniqueName('topo.direct');
const fanoutX = uniqueName('topo.fanout');
const topicX = uniqueName('topo.topic');
const headersX = uniqueName('topo.headers');
const sourceX = uniqueName('topo.e2e-src');
const destinationX = uniqueName('topo.e2e-dst');
const secondX = uniqueName('topo.second');

const directQ = uniqueName('topo.direct');
const fanoutQ = uniqueName('topo.fanout');
const topicQ = uniqueName('topo.topic');
const headersAllQ = uniqueName('topo.headers-all');
const headersAnyQ = uniqueName('topo.headers-any');
const destinationQ = uniqueName('topo.e2e-dst');
const moduleQ = uniqueName('topo.module');
const argsQ = uniqueName('topo.args');
const quorumQ = uniqueName('topo.quorum');
const quorumDeadQ = uniqueName('topo.quorum-dead');
const quorumDlx = uniqueName('topo.quorum-dlx');
const priorityQ = uniqueName('topo.priority');
const multiQ = uniqueName('topo.multi');

const EXCHANGES = [directX, fanoutX, topicX, headersX, sourceX, destinationX, secondX, quorumDlx];
const QUEUES = [directQ, fanoutQ, topicQ, headersAllQ, headersAnyQ, destinationQ, moduleQ, argsQ, quorumQ, quorumDeadQ, priorityQ, multiQ];

const TYPED_ARGS = {
  messageTtl: 60_000,
  expires: 3_600_000,
  maxLength: 100,
  maxLengthBytes: 1_048_576,
  overflow: 'reject-publish',
  deadLetterExchange: 'topo.nowhere',
  deadLetterRoutingKey: 'dead',
  maxPriority: 5,
  singleActiveConsumer: true,
} as const;

const RAW_ARGS = {
  'x-message-ttl': 60_000,
  'x-expires': 3_600_000,
  'x-max-length': 100,
  'x-max-length-bytes': 1_048_576,
  'x-overflow': 'reject-publish',
  'x-dead-letter-exchange': 'topo.nowhere',
  'x-dead-letter-routing-key': 'dead',
  'x-max-priority': 5,
  'x-single-active-consumer': true,
};

@Injectable()
class Routes {
  readonly seen: Record<string, unknown[]> = {};
  readonly quorumDeliveries: boolean[] = [];
  readonly priorities: number[] = [];

  private record(where: string, payload: unknown): void {
    (this.seen[where] ??= []).push(payload);
  }

  @RabbitSubscribe({ exchange: directX, routingKey: 'red', queue: directQ })
  direct(payload: unknown): void {
    this.record('direct', payload);
  }

  @RabbitSubscribe({ exchange: fanoutX, routingKey: 'ignored-by-fanout', queue: fanoutQ })
  fanout(payload: unknown): void {
    this.record('fanout', payload);
  }

  @RabbitSubscribe({ exchange: topicX, routingKey: 'order.*', queue: topicQ })
  topic(payload: unknown): void {
    this.record('topic', payload);
  }

  @RabbitSubscribe({ exchange: headersX, queue: headersAllQ, bindingArguments: { 'x-match': 'all', kind: 'invoice', region: 'eu' } })
  headersAll(payload: unknown): void {
    this.record('headersAll', payload);
  }

  @RabbitSubscribe({ queue: headersAnyQ, bindings: [{ exchange: headersX, arguments: { 'x-match': 'any', kind: 'invoice', region: 'eu' } }] })
  headersAny(payload: unknown): void {
    this.record('headersAny', payload);
  }

  @RabbitSubscribe({ exchange: destinationX, queue: destinationQ })
  viaExchangeBinding(payload: unknown): void {
    this.record('e2e', payload);
  }

  @RabbitSubscribe({ queue: argsQ, queueOptions: TYPED_ARGS })
  withArguments(): void {}

  @RabbitSubscribe({ queue: quorumQ, queueOptions: { type: 'quorum', deliveryLimit: 2, deadLetterExchange: quorumDlx } })
  alwaysRequeue(_payload: unknown, message: ConsumeMessage): Nack {
    this.quorumDeliveries.push(message.fields.redelivered);
    return new Nack(true);
  }

  @RabbitSubscribe({ queue: priorityQ, queueOptions: { maxPriority: 10 }, prefetch: 1 })
  byPriority(payload: { priority: number }): void {
    this.priorities.push(payload.priority);
  }

  @RabbitSubscribe({ exchange: topicX, routingKey: ['multi.one', 'multi.two'], queue: multiQ, bindings: [{ exchange: secondX, routingKey: 'multi.three' }] })
  multi(payload: unknown): void {
    this.record('multi', payload);
  }
}

async function exchangeTypes(): Promise<Map<string, string>> {
  const out = await rabbitmqctl('list_exchanges', '-q', '--no-table-headers', 'name', 'type');
  return new Map(
    out
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('\t') as [string, string]),
  );
}

async function queueInfo(queue: string): Promise<string> {
  const out = await rabbitmqctl('list_queues', '-q', '--no-table-headers', 'name', 'type', 'arguments');
  return out.split('\n').find((line) => line.startsWith(`${queue}\t`)) ?? '';
}

describe('topology', () => {
  let admin: BrokerAdmin;
  let app: INestApplicationContext;
  let amqp: AmqpConnection;
  let routes: Routes;

  const unroutable = (exchange: string, routingKey: string, options = {}) =>
    amqp.publish(exchange, routingKey, { lost: true }, options).then(
      () => undefined,
      (e: unknown) => e,
    );

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('queue', ...QUEUES);
    admin.track('exchange', ...EXCHANGES);
    // The quorum queue's dead letters land here, to be counted.
    await admin.raw(async (ch) => {
      await ch.assertExchange(quorumDlx, 'fanout', { durable: false });
      await ch.assertQueue(quorumDeadQ, { durable: true });
      await ch.bindQueue(quorumDeadQ, quorumDlx, '');
    });
    app = await createApp({
      imports: [
        RabbitMQModule.forRoot({
          uri: AMQP_URL,
          exchanges: [
            { name: directX, type: 'direct' },
            { name: fanoutX, type: 'fanout' },
            { name: topicX, type: 'topic' },
            { name: headersX, type: 'headers' },
            { name: sourceX, type: 'topic' },
            { name: destinationX, type: 'fanout' },
            { name: secondX, type: 'direct' },
          ],
          exchangeBindings: [{ source: sourceX, destination: destinationX, routingKey: 'audit.#' }],
          queues: [{ name: moduleQ, messageTtl: 60_000, bindings: [{ exchange: topicX, routingKey: ['module.a', 'module.b'] }] }],
        }),
      ],
      providers: [Routes],
    });
    amqp = app.get(AmqpConnection);
    routes = app.get(Routes);
  });

  afterAll(async () => {
    await app?.close();
    await admin?.close();
  });

  it('declares exchanges of every type', async () => {
    const types = await exchangeTypes();
    expect(types.get(directX)).toBe('direct');
    expect(types.get(fanoutX)).toBe('fanout');
    expect(types.get(topicX)).toBe('topic');
    expect(types.get(headersX)).toBe('headers');
  });

  it('routes by exact key on a direct exchange', async () => {
    await amqp.publish(directX, 'red', { colour: 'red' });
    await waitFor(() => routes.seen.direct?.length === 1, 'the direct message');
    expect(await unroutable(directX, 'blue')).toBeInstanceOf(UnroutableMessageError);
  });

  it('ignores the routing key on a fanout exchange', async () => {
    await amqp.publish(fanoutX, 'any.key.at.all', { n: 1 });
    await waitFor(() => routes.seen.fanout?.length === 1, 'the fanout message');
  });

  it('matches patterns on a topic exchange', async () => {
    await amqp.publish(topicX, 'order.created', { n: 1 });
    await waitFor(() => routes.seen.topic?.length === 1, 'the topic message');
    expect(await unroutable(topicX, 'order.created.eu')).toBeInstanceOf(UnroutableMessageError);
  });

  it('matches headers with x-match all (bindingArguments) and any (bindings[].arguments)', async () => {
    await amqp.publish(headersX, '', { match: 'one' }, { headers: { kind: 'invoice', region: 'us' } });
    await amqp.publish(headersX, '', { match: 'both' }, { headers: { kind: 'invoice', region: 'eu' } });
    await waitFor(() => routes.seen.headersAny?.length === 2 && routes.seen.headersAll?.length === 1, 'header-routed messages');
    expect(routes.seen.headersAll).toEqual([{ match: 'both' }]);
    expect(await unroutable(headersX, '', { headers: { kind: 'receipt', region: 'us' } })).toBeInstanceOf(UnroutableMessageError);
  });

  it('binds exchanges to exchanges', async () => {
    await amqp.publish(sourceX, 'audit.login', { who: 'ann' });
    await waitFor(() => routes.seen.e2e?.length === 1, 'the message through the exchange binding');
    expect(routes.seen.e2e).toEqual([{ who: 'ann' }]);
    expect(await unroutable(sourceX, 'billing.login')).toBeInstanceOf(UnroutableMessageError);
  });

  it('declares module-level queues with their bindings', async () => {
    await amqp.publish(topicX, 'module.a', { k: 'a' });
    await amqp.publish(topicX, 'module.b', { k: 'b' });
    expect(await admin.messageCount(moduleQ)).toBe(2);
    expect(await queueInfo(moduleQ)).toContain('{"x-message-ttl",60000}');
  });

  it('turns typed queue options into x- arguments', async () => {
    const info = await queueInfo(argsQ);
    for (const [key, value] of Object.entries(RAW_ARGS)) {
      expect(info).toContain(`{"${key}",${JSON.stringify(value)}}`);
    }
    // Redeclaring with exactly these arguments is accepted; with one different, refused.
    await expect(admin.raw((ch) => ch.assertQueue(argsQ, { durable: true, arguments: RAW_ARGS }))).resolves.toBeTruthy();
    await expect(admin.raw((ch) => ch.assertQueue(argsQ, { durable: true, arguments: { ...RAW_ARGS, 'x-max-length': 101 } }))).rejects.toThrow(
      /PRECONDITION_FAILED/,
    );
  });

  it('declares a quorum queue whose deliveryLimit dead-letters a message requeued too often', async () => {
    expect(await queueInfo(quorumQ)).toMatch(/\tquorum\t.*\{"x-delivery-limit",2\}/);
    await amqp.publish('', quorumQ, { poison: true });
    await waitFor(async () => (await admin.messageCount(quorumDeadQ)) === 1, 'the message dead-lettered by the delivery limit');
    // First delivery plus two redeliveries, then the broker gives up.
    expect(routes.quorumDeliveries).toEqual([false, true, true]);
  });

  it('delivers higher priorities first on a queue with maxPriority', async () => {
    await amqp.cancelConsumer('Routes.byPriority');
    await waitFor(async () => (await admin.consumerCount(priorityQ)) === 0, 'the priority consumer to stop');
    for (const priority of [1, 2, 9, 3, 7]) await amqp.publish('', priorityQ, { priority }, { priority });
    await amqp.resumeConsumer('Routes.byPriority');
    await waitFor(() => routes.priorities.length === 5, 'five prioritised messages');
    expect(routes.priorities).toEqual([9, 7, 3, 2, 1]);
  });

  it('binds one handler queue with several routing keys and several exchanges', async () => {
    await amqp.publish(topicX, 'multi.one', 1);
    await amqp.publish(topicX, 'multi.two', 2);
    await amqp.publish(secondX, 'multi.three', 3);
    await waitFor(() => routes.seen.multi?.length === 3, 'three messages on three bindings');
    expect([...(routes.seen.multi ?? [])].sort()).toEqual([1, 2, 3]);
    expect(await unroutable(secondX, 'multi.one')).toBeInstanceOf(UnroutableMessageError);
  });

  describe('a queue that already exists with other arguments', () => {
    const conflictQ = uniqueName('topo.conflict-handler');
    const conflictModuleQ = uniqueName('topo.conflict-module');
    const healthyQ = uniqueName('topo.healthy');
    let conflictApp: INestApplicationContext;
    let bootMs = 0;

    @Injectable()
    class Mixed {
      readonly healthy: unknown[] = [];
      @RabbitSubscribe({ queue: conflictQ, queueOptions: { messageTtl: 2000 } })
      conflicting(): void {}
      @RabbitSubscribe({ queue: healthyQ })
      fine(payload: unknown): void {
        this.healthy.push(payload);
      }
    }

    beforeAll(async () => {
      admin.track('queue', conflictQ, conflictModuleQ, healthyQ);
      await admin.raw(async (ch) => {
        await ch.assertQueue(conflictQ, { durable: true, arguments: { 'x-message-ttl': 1000 } });
        await ch.assertQueue(conflictModuleQ, { durable: true, arguments: { 'x-message-ttl': 1000 } });
      });
      const started = Date.now();
      conflictApp = await createApp(
        {
          imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, queues: [{ name: conflictModuleQ, messageTtl: 2000 }] })],
          providers: [Mixed],
        },
        new CapturingLogger(),
      );
      bootMs = Date.now() - started;
    });

    afterAll(async () => {
      await conflictApp?.close();
    });

    it('still boots promptly and keeps the other handlers working', async () => {
      expect(bootMs).toBeLessThan(5000);
      await conflictApp.get(AmqpConnection).publish('', healthyQ, { ok: true });
      await waitFor(() => conflictApp.get(Mixed).healthy.length === 1, 'the healthy handler');
    });

    it('reports a PRECONDITION_FAILED TopologyError naming the queue and the argument', async () => {
      const errors = conflictApp.get(AmqpConnection).topologyErrors;
      for (const queue of [conflictQ, conflictModuleQ]) {
        const error = errors.find((e) => e instanceof TopologyError && e.resource === queue) as TopologyError | undefined;
        expect(error).toBeDefined();
        expect(error!.code).toBe('PRECONDITION_FAILED');
        expect(error!.replyCode).toBe(406);
        expect(error!.message).toContain(queue);
        expect(error!.message).toContain('x-message-ttl');
      }
    });
  });

  describe('after a reconnect', () => {
    const connectionName = uniqueName('topo.redeclare');
    const redeclareX = uniqueName('topo.redeclare');
    const redeclareQ = uniqueName('topo.redeclare');
    const handlerQ = uniqueName('topo.redeclare-handler');
    let reApp: INestApplicationContext;

    @Injectable()
    class Late {
      readonly received: unknown[] = [];
      @RabbitSubscribe({ exchange: redeclareX, routingKey: 'handler', queue: handlerQ })
      on(payload: unknown): void {
        this.received.push(payload);
      }
    }

    beforeAll(async () => {
      admin.track('queue', redeclareQ, handlerQ);
      admin.track('exchange', redeclareX);
      reApp = await createApp(
        {
          imports: [
            RabbitMQModule.forRoot({
              uri: AMQP_URL,
              connectionName,
              reconnectTimeInSeconds: 0.2,
              exchanges: [{ name: redeclareX, type: 'direct' }],
              queues: [{ name: redeclareQ, bindings: [{ exchange: redeclareX, routingKey: 'module' }] }],
            }),
          ],
          providers: [Late],
        },
        new CapturingLogger(),
      );
    });

    afterAll(async () => {
      await reApp?.close();
    });

    it('declares exchanges, queues and bindings again', async () => {
      const amqp2 = reApp.get(AmqpConnection);
      await admin.raw(async (ch) => {
        await ch.deleteQueue(redeclareQ);
        await ch.deleteQueue(handlerQ);
        await ch.deleteExchange(redeclareX);
      });
      expect(await admin.queueExists(redeclareQ)).toBe(false);
      expect(await closeConnectionsNamed(connectionName)).toBe(1);
      await waitFor(
        async () => amqp2.isConnected && (await admin.queueExists(redeclareQ)) && (await admin.consumerCount(handlerQ)) === 1,
        'the topology to be re-declared',
      );
      // Bindings too: both routes reach their queues (mandatory publishes would be returned otherwise).
      await amqp2.publish(redeclareX, 'module', { to: 'module' });
      await amqp2.publish(redeclareX, 'handler', { to: 'handler' });
      expect(await admin.messageCount(redeclareQ)).toBe(1);
      await waitFor(() => reApp.get(Late).received.length === 1, 'the handler behind the re-declared binding');
    });
  });
});
