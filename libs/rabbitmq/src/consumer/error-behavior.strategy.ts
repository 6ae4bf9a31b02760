import { Logger } from '@nestjs/common';
import { describeError } from '../errors/error-text';
import { isPermanent } from '../errors/permanent-failure';
import type { ErrorBehavior } from '../options/rabbitmq-options.interface';
import { DROP, REJECT, REQUEUE, type FailureContext, type FailureStrategy, type Settlement } from './failure-strategy';

/**
 * The plain error behaviour, used when no retry or dead-letter queue is set:
 * nack without requeue (the queue's own dead-letter exchange, if any, gets it),
 * nack with requeue, or ack and drop. Permanent failures are never requeued.
 */
export class ErrorBehaviorStrategy implements FailureStrategy {
  private readonly logger = new Logger('MessageDispatcher');

  constructor(private readonly behavior: ErrorBehavior) {}

  async onFailure({ queue, route, error }: FailureContext): Promise<Settlement> {
    const where = route?.descriptor.name ?? `queue '${queue}'`;
    const permanent = isPermanent(error);
    const behavior: ErrorBehavior = permanent && this.behavior === 'requeue' ? 'dead-letter' : this.behavior;
    const outcome =
      behavior === 'ack' ? 'dropped (ack)' : behavior === 'requeue' ? 'requeued' : 'rejected (dead-lettered if the queue has a dead-letter exchange)';
    this.logger.warn(`${where}: message ${outcome}: ${describeError(error)}`);
    return behavior === 'ack' ? DROP : behavior === 'requeue' ? REQUEUE : REJECT;
  }
}
