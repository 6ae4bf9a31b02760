import type { AmqpConnection } from '../facade/amqp-connection';
import type { HandlerStats } from '../consumer/handler-stats';

/**
 * Resolves once the handler named `handlerName` has completed `count`
 * messages (acked) on this connection; rejects after `timeoutMs` saying how
 * far it got. Polls the handler's counters — no sleeps in tests.
 */
export async function waitForHandled(connection: AmqpConnection, handlerName: string, count: number, timeoutMs = 10_000): Promise<HandlerStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = connection.getHandlerStats()[handlerName];
    if (stats && stats.handled >= count) return stats;
    if (Date.now() > deadline) {
      const known = Object.keys(connection.getHandlerStats()).join(', ') || 'none';
      throw new Error(
        stats
          ? `${handlerName} handled ${stats.handled} of ${count} messages within ${timeoutMs} ms (failed ${stats.failed}, retried ${stats.retried}, dead-lettered ${stats.deadLettered})`
          : `No handler named ${handlerName} on connection '${connection.name}' (known: ${known})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
