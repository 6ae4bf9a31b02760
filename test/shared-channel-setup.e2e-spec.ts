import { Injectable } from '@nestjs/common';
import { AmqpConnection, RabbitMQModule, RabbitSubscribe, TopologyError } from '@warren/rabbitmq';
import { suiteApps } from './support/app';
import { AMQP_URL, uniqueName, waitFor } from './support/broker';

/**
 * What docs/topology.md states about a queue that cannot be declared: a handler on a channel of
 * its own stops alone; on a named shared channel (`channel:`) the failed setup stops every handler
 * on that channel, and the setup is retried until it succeeds.
 */
describe('a refused queue declaration', () => {
  const apps = suiteApps();

  it('stops every handler on its shared channel, not the handlers on other channels, and recovers once the conflict is gone', async () => {
    const exchange = uniqueName('setup-x');
    const conflicting = uniqueName('setup-conflict');
    const neighbour = uniqueName('setup-neighbour');
    const alone = uniqueName('setup-alone');
    apps.admin.track('exchange', exchange);
    apps.admin.track('queue', conflicting, neighbour, alone);
    // The queue exists with another TTL than the handler declares: PRECONDITION_FAILED.
    await apps.admin.raw((ch) => ch.assertQueue(conflicting, { durable: true, arguments: { 'x-message-ttl': 1000 } }));
    const received: Record<string, number> = { conflicting: 0, neighbour: 0, alone: 0 };

    @Injectable()
    class Handlers {
      @RabbitSubscribe({ exchange, routingKey: 'conflicting', queue: conflicting, queueOptions: { messageTtl: 2000 }, channel: 'shared' })
      onConflicting(): void {
        received.conflicting++;
      }

      @RabbitSubscribe({ exchange, routingKey: 'neighbour', queue: neighbour, channel: 'shared' })
      onNeighbour(): void {
        received.neighbour++;
      }

      @RabbitSubscribe({ exchange, routingKey: 'alone', queue: alone })
      onAlone(): void {
        received.alone++;
      }
    }

    const app = await apps.boot({
      imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, exchanges: [{ name: exchange }], channels: { shared: { prefetchCount: 5 } } })],
      providers: [Handlers],
    });
    const amqp = app.get(AmqpConnection);
    await waitFor(() => amqp.topologyErrors.some((e) => e instanceof TopologyError && e.resource === conflicting), 'the refusal reported');

    // The handler on its own channel works...
    await amqp.publish(exchange, 'alone', {});
    await waitFor(() => received.alone === 1, 'the handler on its own channel');
    // ...the neighbour on the shared channel does not consume (its queue may exist; nobody reads it).
    expect(await apps.admin.consumerCount(conflicting)).toBe(0);
    expect((await apps.admin.consumerCount(neighbour)) ?? 0).toBe(0);

    // Remove the conflict: the shared channel's setup is retried and both handlers consume.
    await apps.admin.raw((ch) => ch.deleteQueue(conflicting));
    await waitFor(
      async () => (await apps.admin.consumerCount(conflicting)) === 1 && (await apps.admin.consumerCount(neighbour)) === 1,
      'shared channel set up again',
      20_000,
    );
    await amqp.publish(exchange, 'neighbour', {});
    await amqp.publish(exchange, 'conflicting', {});
    await waitFor(() => received.neighbour === 1 && received.conflicting === 1, 'both shared-channel handlers');
  }, 40_000);
});
