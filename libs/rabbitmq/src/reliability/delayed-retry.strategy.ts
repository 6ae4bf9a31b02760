import { Logger } from '@nestjs/common';
import { RETRIED, type FailureContext, type FailureStrategy, type Settlement } from '../consumer/failure-strategy';
import type { FeatureHost } from '../consumer/feature-host';
import { describeError } from '../errors/error-text';
import { isPermanent } from '../errors/permanent-failure';
import { keptProperties } from '../message/kept-properties';
import { attemptOf, retryHeaders } from '../message/message-headers';
import type { RetryPolicy } from '../retry/retry-policy';
import { RETRY_WAIT_EXCHANGE, waitRoutingKey, type WaitQueueKind } from './wait-queues';

/**
 * Sends a failed message to the wait queue of its delay level, from which the
 * broker returns it to the failing handler's queue only, with the attempt
 * count raised. The wait is on the broker, so it survives a consumer restart.
 * When no retry is left (or the error is permanent) the next strategy —
 * usually the dead-letter queue — takes it.
 */
export class DelayedRetryStrategy implements FailureStrategy {
  private readonly logger = new Logger('Retry');

  constructor(
    private readonly host: FeatureHost,
    private readonly policy: RetryPolicy,
    private readonly kind: WaitQueueKind,
    private readonly next: FailureStrategy,
  ) {}

  async onFailure(context: FailureContext): Promise<Settlement> {
    const { queue, route, message, error } = context;
    const attempt = attemptOf(message);
    if (isPermanent(error) || !this.policy.shouldRetry(error, attempt)) return this.next.onFailure(context);
    const delay = this.policy.delayFor(attempt);
    const headers = retryHeaders(message, queue, attempt, error, new Date().toISOString(), delay);
    await this.host.publishRaw(RETRY_WAIT_EXCHANGE, waitRoutingKey(this.kind, delay, queue), message.content, {
      ...keptProperties(message.properties as unknown as Record<string, unknown>),
      headers,
    });
    if (route) route.stats.retried++;
    this.logger.debug(`${route?.descriptor.name ?? queue}: attempt ${attempt} failed (${describeError(error)}); retry in ${delay} ms`);
    return RETRIED;
  }
}
