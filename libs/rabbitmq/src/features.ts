import type { AmqpConnection } from './facade/amqp-connection';
import { DeadLetterEnhancer } from './dead-letter/dead-letter.enhancer';
import { DedupEnhancer } from './reliability/dedup.enhancer';
import { RetryEnhancer } from './reliability/retry.enhancer';

const installed = new WeakSet<AmqpConnection>();

/**
 * Installs the per-handler features on a connection. Order matters: the
 * dead-letter queue is the last stop, retry runs before it, dedup wraps the
 * handler call itself.
 */
export function installFeatures(connection: AmqpConnection): void {
  // A connection given to RabbitMQModule.attach may have been through here already.
  if (installed.has(connection)) return;
  installed.add(connection);
  connection.addRouteEnhancer(new DeadLetterEnhancer(connection));
  connection.addRouteEnhancer(new RetryEnhancer(connection));
  connection.addRouteEnhancer(new DedupEnhancer(connection));
}
