import type { Channel, ConsumeMessage } from 'amqplib';
import type { AssertQueueErrorHandler } from '../options/message-handler-error-behavior';
import { MessageHandlerErrorBehavior } from '../options/message-handler-error-behavior';

/** An errorHandler for one message or a batch of them (golevelup's LegacyMessageErrorHandler). */
export type LegacyMessageErrorHandler = (channel: Channel, msg: ConsumeMessage | ConsumeMessage[], error: unknown) => Promise<void> | void;

function each(msg: ConsumeMessage | ConsumeMessage[], settle: (message: ConsumeMessage) => void): void {
  for (const message of Array.isArray(msg) ? msg : [msg]) settle(message);
}

/** An errorHandler that acks (drops) the failed message. */
export const ackErrorHandler: LegacyMessageErrorHandler = (channel, msg) => each(msg, (m) => channel.ack(m));

/** An errorHandler that requeues the failed message at once (beware of hot loops: prefer `retry`). */
export const requeueErrorHandler: LegacyMessageErrorHandler = (channel, msg) => each(msg, (m) => channel.nack(m, false, true));

/** An errorHandler that rejects the failed message without requeue (to the queue's dead-letter exchange, if any). */
export const defaultNackErrorHandler: LegacyMessageErrorHandler = (channel, msg) => each(msg, (m) => channel.nack(m, false, false));

/** The errorHandler that does what a MessageHandlerErrorBehavior says. */
export function getHandlerForLegacyBehavior(behavior: MessageHandlerErrorBehavior): LegacyMessageErrorHandler {
  switch (behavior) {
    case MessageHandlerErrorBehavior.ACK:
      return ackErrorHandler;
    case MessageHandlerErrorBehavior.REQUEUE:
      return requeueErrorHandler;
    default:
      return defaultNackErrorHandler;
  }
}

/** An assertQueueErrorHandler that rethrows: the handler stays stopped (what happens without one). */
export const defaultAssertQueueErrorHandler: AssertQueueErrorHandler = (_channel, _queueName, _queueOptions, error) => {
  throw error;
};

/**
 * An assertQueueErrorHandler that deletes the queue — WITH the messages in it — and declares it
 * again with the handler's options. For development; in production migrate to a new queue name.
 */
export const forceDeleteAssertQueueErrorHandler: AssertQueueErrorHandler = async (channel, queueName, queueOptions) => {
  await channel.deleteQueue(queueName);
  const { queue } = await channel.assertQueue(queueName, queueOptions);
  return queue;
};
