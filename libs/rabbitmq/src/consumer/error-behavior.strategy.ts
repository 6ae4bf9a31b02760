import { Logger } from '@nestjs/common';
import { describeError } from '../errors/error-text';
import type { ErrorBehavior } from '../options/rabbitmq-options.interface';
import { DROP, REJECT, REQUEUE, type FailureContext, type FailureStrategy, type Settlement } from './failure-strategy';

/** Errors that fail the same way on every delivery: never requeue them. */
const PERMANENT_CODES = new Set(['MESSAGE_DESERIALIZATION', 'NO_HANDLER', 'MESSAGE_TOO_LARGE', 'NON_RETRYABLE']);

/** Whether redelivering the message can never help: unreadable, unroutable, too large, non-retryable, or invalid (a pipe's BadRequestException). */
export function isPermanentFailure(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const { code, name } = error as { code?: unknown; name?: unknown };
  if (typeof code === 'string' && PERMANENT_CODES.has(code)) return true;
  // ValidationPipe (and ParseIntPipe, ...) reject a payload with BadRequestException: the same payload fails the same way.
  return name === 'BadRequestException' || name === 'NonRetryableError';
}

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
    const permanent = isPermanentFailure(error);
    const behavior: ErrorBehavior = permanent && this.behavior === 'requeue' ? 'dead-letter' : this.behavior;
    const outcome = behavior === 'ack' ? 'dropped (ack)' : behavior === 'requeue' ? 'requeued' : 'rejected (dead-lettered if the queue has a dead-letter exchange)';
    this.logger.warn(`${where}: message ${outcome}: ${describeError(error)}`);
    return behavior === 'ack' ? DROP : behavior === 'requeue' ? REQUEUE : REJECT;
  }
}
