import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { AmqpConnectionRegistry } from '../facade/amqp-connection.registry';
import { settleWithin } from '../connection/settle-within';

export interface RabbitMQHealthOptions {
  /** @default 'default' */
  connection?: string;
  /**
   * Also publish a message to a temporary queue and read it back, as RabbitMQ's
   * own health-check advice suggests: proves the broker accepts and delivers.
   * @default false
   */
  roundTrip?: boolean;
  /** ms the round trip may take. @default 2000 */
  timeout?: number;
}

/**
 * A `@nestjs/terminus` health indicator: up when the connection is up and every
 * channel is open (and, with `roundTrip`, a message makes it through the broker).
 * Down with `state: 'blocked'` and the broker's `reason` while the broker blocks
 * publishing (a memory or disk alarm): publishes then wait or time out.
 *
 * @example
 * ```ts
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.rabbit.isHealthy('rabbitmq', { roundTrip: true })]); }
 * ```
 */
@Injectable()
export class RabbitMQHealthIndicator {
  constructor(
    private readonly registry: AmqpConnectionRegistry,
    private readonly indicators: HealthIndicatorService,
  ) {}

  async isHealthy<Key extends string = 'rabbitmq'>(key: Key = 'rabbitmq' as Key, options: RabbitMQHealthOptions = {}): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.indicators.check(key);
    let connection;
    try {
      connection = this.registry.get(options.connection);
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
    const channels = connection.channelCounts;
    const details = { connection: connection.name, state: connection.status, channels: `${channels.open}/${channels.total}` };
    if (connection.isBlocked) {
      const reason = connection.blockedReason;
      return indicator.down({
        ...details,
        reason,
        message: `the broker blocks publishing on this connection (${reason ?? 'resource alarm'}): publishes wait until the alarm clears; free memory or disk on the broker`,
      });
    }
    if (!connection.isConnected) return indicator.down({ ...details, message: 'not connected to the broker' });
    if (channels.open < channels.total) return indicator.down({ ...details, message: 'some channels are not open (see the topology errors in the log)' });
    if (!options.roundTrip) return indicator.up(details);
    const timeout = options.timeout ?? 2000;
    const started = Date.now();
    try {
      // Bounded as a whole: a broker that blocks the connection during the trip answers nothing.
      // Resolves false when the marker did not come back in time.
      const trip = connection.withChannel(async (channel): Promise<boolean> => {
        const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
        const marker = randomUUID();
        channel.sendToQueue(queue, Buffer.from(marker), { persistent: false });
        for (;;) {
          const message = await channel.get(queue, { noAck: true });
          if (message && message.content.toString() === marker) return true;
          if (Date.now() - started > timeout) return false;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      });
      if (!(await settleWithin(trip, timeout))) {
        const blocked = connection.isBlocked ? ` (the broker blocked the connection: ${connection.blockedReason ?? 'resource alarm'})` : '';
        return indicator.down({ ...details, state: connection.status, message: `round trip failed: no answer within ${timeout} ms${blocked}` });
      }
      if (!(await trip)) return indicator.down({ ...details, message: `round trip failed: no round trip within ${timeout} ms` });
    } catch (error) {
      return indicator.down({ ...details, message: `round trip failed: ${(error as Error).message}` });
    }
    return indicator.up({ ...details, roundTripMs: Date.now() - started });
  }
}
