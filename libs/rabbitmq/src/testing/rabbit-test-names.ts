import { randomBytes } from 'node:crypto';
import type { AmqpConnection } from '../facade/amqp-connection';

/**
 * Unique queue and exchange names for tests against a real broker, deleted
 * again by `cleanup()` (with their `.dlq` dead-letter queues).
 *
 * @example
 * ```ts
 * const names = new RabbitTestNames('billing');
 * const queue = names.queue('orders'); // 'billing.orders.lq3x0a.9f2c1b'
 * afterAll(() => names.cleanup(app.get(AmqpConnection)));
 * ```
 */
export class RabbitTestNames {
  private readonly suffix = `${Date.now().toString(36)}.${randomBytes(3).toString('hex')}`;
  private readonly queues = new Set<string>();
  private readonly exchanges = new Set<string>();

  constructor(private readonly prefix = 'test') {}

  queue(name: string): string {
    const queue = `${this.prefix}.${name}.${this.suffix}`;
    this.queues.add(queue);
    this.queues.add(`${queue}.dlq`);
    return queue;
  }

  exchange(name: string): string {
    const exchange = `${this.prefix}.${name}.${this.suffix}`;
    this.exchanges.add(exchange);
    return exchange;
  }

  /** Deletes every queue and exchange handed out (those that exist). */
  async cleanup(connection: AmqpConnection): Promise<void> {
    for (const queue of this.queues) await connection.withChannel((ch) => ch.deleteQueue(queue)).catch(() => undefined);
    for (const exchange of this.exchanges) await connection.withChannel((ch) => ch.deleteExchange(exchange)).catch(() => undefined);
  }
}
