import { Injectable } from '@nestjs/common';
import * as amqplib from 'amqplib';
import { AmqpConnection, RabbitMQModule, RabbitSubscribe } from '@warren/rabbitmq';
import { CapturingLogger, suiteApps } from './support/app';
import { AMQP_URL, uniqueName, waitFor } from './support/broker';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a handler channel whose setup fails', () => {
  const suite = suiteApps();
  const queue = uniqueName('setup-retry.locked');

  @Injectable()
  class Locked {
    readonly received: unknown[] = [];
    @RabbitSubscribe({ queue })
    on(payload: unknown): void {
      this.received.push(payload);
    }
  }

  it('is retried with a backoff while the connection stays up, logs the error once, and consumes once the cause is gone', async () => {
    suite.admin.track('queue', queue);
    // Another connection holds the queue exclusively: declaring it fails with RESOURCE_LOCKED.
    const holder = await amqplib.connect(AMQP_URL);
    try {
      const channel = await holder.createChannel();
      await channel.assertQueue(queue, { exclusive: true });
      const logger = new CapturingLogger();
      const app = await suite.boot(
        { imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, connectionName: uniqueName('setup-retry') })], providers: [Locked] },
        logger,
      );
      const amqp = app.get(AmqpConnection);
      await waitFor(() => amqp.topologyErrors.some((e) => e.message.includes(queue)), 'the setup error');
      // Long enough for a few retries: the error is reported once, not on each of them.
      await sleep(3500);
      expect(logger.lines.filter((l) => l.startsWith('ERROR') && l.includes(queue))).toHaveLength(1);
      expect(amqp.topologyErrors.filter((e) => e.message.includes(queue))).toHaveLength(1);

      await holder.close();
      await waitFor(async () => (await suite.admin.consumerCount(queue)) === 1, 'the handler consuming, without a reconnect', 20_000);
      await amqp.publish('', queue, { after: 'release' });
      await waitFor(() => app.get(Locked).received.length === 1, 'the message handled');
      expect(app.get(Locked).received).toEqual([{ after: 'release' }]);
    } finally {
      await holder.close().catch(() => undefined);
    }
  }, 40_000);
});
