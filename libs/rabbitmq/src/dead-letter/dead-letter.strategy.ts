import { Logger } from '@nestjs/common';
import { DEAD_LETTERED, type FailureContext, type FailureStrategy, type Settlement } from '../consumer/failure-strategy';
import type { FeatureHost } from '../consumer/feature-host';
import { describeError } from '../errors/error-text';
import { keptProperties } from '../message/kept-properties';
import { attemptOf, deadLetterHeaders } from '../message/message-headers';

/** Where a handler's dead letters go. */
export interface DeadLetterTarget {
  exchange: string;
  queue: string;
}

/**
 * Parks a failed message in the dead-letter queue with the reason in its
 * headers, confirmed by the broker before the original is acked: a crash in
 * between leaves a duplicate at worst, never a loss.
 */
export class DeadLetterStrategy implements FailureStrategy {
  private readonly logger = new Logger('DeadLetter');

  constructor(
    private readonly host: FeatureHost,
    private readonly target: DeadLetterTarget,
  ) {}

  async onFailure({ queue, route, message, error }: FailureContext): Promise<Settlement> {
    const attempts = attemptOf(message);
    const headers = deadLetterHeaders(message, queue, route?.descriptor.name, error, attempts);
    await this.host.publishRaw(this.target.exchange, this.target.queue, message.content, {
      ...keptProperties(message.properties as unknown as Record<string, unknown>),
      headers,
    });
    if (route) route.stats.deadLettered++;
    this.logger.warn(
      `${route?.descriptor.name ?? `queue '${queue}'`}: message ${String(message.properties.messageId ?? '')} dead-lettered to '${this.target.queue}' after ${attempts} attempt(s): ${describeError(error)}`,
    );
    return DEAD_LETTERED;
  }
}
