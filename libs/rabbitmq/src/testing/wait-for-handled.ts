import type { AmqpConnection } from '../facade/amqp-connection';
import type { HandlerStats } from '../consumer/handler-stats';
import { WaitForHandledTimeoutError } from '../errors/wait-for-handled-timeout.error';

/**
 * Resolves once the handler named `handlerName` has completed `count`
 * messages (acked) on this connection; rejects after `timeoutMs` with a
 * WaitForHandledTimeoutError saying how far it got. Polls the handler's counters — no sleeps in tests.
 */
export async function waitForHandled(connection: AmqpConnection, handlerName: string, count: number, timeoutMs = 10_000): Promise<HandlerStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = connection.getHandlerStats()[handlerName];
    if (stats && stats.handled >= count) return stats;
    if (Date.now() > deadline) {
      throw new WaitForHandledTimeoutError(handlerName, connection.name, count, timeoutMs, stats, Object.keys(connection.getHandlerStats()));
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
