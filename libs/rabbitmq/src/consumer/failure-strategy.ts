import type { ConsumeMessage } from 'amqplib';
import type { HandlerRoute } from './handler-route';

/** How the dispatcher settles a message. */
export type Settlement = { action: 'ack' } | { action: 'nack'; requeue: boolean };

export const ACK: Settlement = { action: 'ack' };
export const REJECT: Settlement = { action: 'nack', requeue: false };
export const REQUEUE: Settlement = { action: 'nack', requeue: true };

/** What went wrong with one delivery. */
export interface FailureContext {
  /** The queue the message was consumed from. */
  queue: string;
  /** The handler that failed, or undefined when no handler matched the routing key. */
  route: HandlerRoute | undefined;
  message: ConsumeMessage;
  error: unknown;
}

/**
 * Decides what a failed delivery becomes: a delayed retry, a dead letter, a
 * requeue or a drop. It may publish (to a wait queue or a dead-letter queue)
 * before answering; the dispatcher then acks or nacks the original — the
 * strategy itself never touches the delivery.
 */
export interface FailureStrategy {
  onFailure(context: FailureContext): Promise<Settlement>;
}
