import type { Channel, ConsumeMessage, Options } from 'amqplib';

/**
 * golevelup's names for what a failed handler does to its message, accepted wherever an
 * `errorBehavior` is: `ACK` is `'ack'`, `NACK` is `'dead-letter'`, `REQUEUE` is `'requeue'`.
 * An explicit value wins over Warren's default: `errorBehavior: MessageHandlerErrorBehavior.REQUEUE` requeues.
 */
export enum MessageHandlerErrorBehavior {
  ACK = 'ACK',
  NACK = 'NACK',
  REQUEUE = 'REQUEUE',
}

/**
 * A handler's own error handling (golevelup's `errorHandler`): it settles the failed message by
 * calling `channel.ack(msg)`, `channel.nack(msg, false, requeue)` or `channel.reject(msg, requeue)`.
 * Warren records that call and applies it in its one dispatcher; a handler that settles nothing
 * leaves the message to the handler's `errorBehavior`.
 */
export type MessageErrorHandler = (channel: Channel, msg: ConsumeMessage, error: unknown) => Promise<void> | void;

/** golevelup's per-handler deserializer: body and raw message in, payload out. */
export type MessageDeserializer = (message: Buffer, msg: ConsumeMessage) => unknown;

/** golevelup's module serializer: payload in, body out. */
export type MessageSerializer = (value: unknown) => Buffer;

/**
 * golevelup's `assertQueueErrorHandler`: called when a handler's queue cannot be declared as
 * configured (typically PRECONDITION_FAILED: it exists with other arguments). It gets a fresh
 * channel, the queue's name, its options in amqplib's `assertQueue` form and the TopologyError
 * (amqplib's error as its `cause`); it returns the name of the queue to consume. Throwing keeps
 * the handler stopped (and its setup retried).
 */
export type AssertQueueErrorHandler = (
  channel: Channel,
  queueName: string,
  queueOptions: Options.AssertQueue | undefined,
  error: unknown,
) => Promise<string> | string;
