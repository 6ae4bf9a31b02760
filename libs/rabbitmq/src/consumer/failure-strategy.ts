import type { Channel, ConsumeMessage } from 'amqplib';
import type { HandlerRoute } from './handler-route';

import type { ConsumeOutcome } from '../options/telemetry.interface';

/** How the dispatcher settles a message, and what to call the outcome. */
export type Settlement =
  | { action: 'ack'; outcome: ConsumeOutcome }
  | { action: 'nack'; requeue: boolean; outcome: ConsumeOutcome }
  /** Back to its queue without counting as a failed delivery: for a delivery whose handler never ran (see MessageDispatcher.giveBack). */
  | { action: 'give-back'; outcome: ConsumeOutcome };

export const ACK: Settlement = { action: 'ack', outcome: 'acked' };
export const REJECT: Settlement = { action: 'nack', requeue: false, outcome: 'rejected' };
export const REQUEUE: Settlement = { action: 'nack', requeue: true, outcome: 'requeued' };
export const DROP: Settlement = { action: 'ack', outcome: 'dropped' };
export const RETRIED: Settlement = { action: 'ack', outcome: 'retried' };
export const DEAD_LETTERED: Settlement = { action: 'ack', outcome: 'dead-lettered' };
export const DUPLICATE: Settlement = { action: 'ack', outcome: 'duplicate' };
export const GIVE_BACK: Settlement = { action: 'give-back', outcome: 'requeued' };

/** What went wrong with one delivery. */
export interface FailureContext {
  /** The queue the message was consumed from. */
  queue: string;
  /** The handler that failed, or undefined when no handler matched the routing key. */
  route: HandlerRoute | undefined;
  message: ConsumeMessage;
  error: unknown;
  /** The channel the message came on, for a user's `errorHandler` (which gets a recording wrapper of it, never the power to settle). */
  channel?: Channel;
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
