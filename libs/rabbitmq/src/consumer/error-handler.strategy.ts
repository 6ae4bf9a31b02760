import { Logger } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import { errorText } from '../errors/error-text';
import type { MessageErrorHandler } from '../options/message-handler-error-behavior';
import { DROP, REJECT, REQUEUE, type FailureContext, type FailureStrategy, type Settlement } from './failure-strategy';

/**
 * golevelup's `errorHandler(channel, msg, error)`: the user's function decides. It is given a
 * channel whose `ack`, `nack` and `reject` record the decision instead of sending it (every
 * other member is the consumer's channel), so the dispatcher stays the one place that settles.
 * A function that settles nothing, or throws, leaves the message to `fallback`.
 */
export class ErrorHandlerStrategy implements FailureStrategy {
  private readonly logger = new Logger('MessageDispatcher');

  constructor(
    private readonly handler: MessageErrorHandler,
    private readonly fallback: FailureStrategy,
  ) {}

  async onFailure(context: FailureContext): Promise<Settlement> {
    let decision: Settlement | undefined;
    const record = (settlement: Settlement): void => {
      decision ??= settlement;
    };
    const recorder: Partial<Channel> = {
      ack: () => record(DROP),
      ackAll: () => record(DROP),
      nack: (_message: ConsumeMessage, _allUpTo?: boolean, requeue?: boolean) => record(requeue === false ? REJECT : REQUEUE),
      nackAll: (requeue?: boolean) => record(requeue === false ? REJECT : REQUEUE),
      reject: (_message: ConsumeMessage, requeue?: boolean) => record(requeue === false ? REJECT : REQUEUE),
    };
    const channel = new Proxy((context.channel ?? {}) as Channel, {
      get: (target, property, receiver) => {
        if (typeof property === 'string' && property in recorder) return recorder[property as keyof Channel];
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const where = context.route?.descriptor.name ?? `queue '${context.queue}'`;
    try {
      await this.handler(channel, context.message, context.error);
    } catch (error) {
      this.logger.error(`${where}: errorHandler threw (${errorText(error)}); the handler's errorBehavior applies`);
      return this.fallback.onFailure(context);
    }
    if (decision === undefined) {
      this.logger.warn(`${where}: errorHandler neither acked, nacked nor rejected the message; the handler's errorBehavior applies`);
      return this.fallback.onFailure(context);
    }
    this.logger.debug(`${where}: errorHandler settled a failed message (${decision.outcome}): ${errorText(context.error)}`);
    return decision;
  }
}
