import type { ConsumeMessage } from 'amqplib';
import type { BatchResult } from '../consumer/batch-result';
import type { BatchConsumeOptions, GolevelupBatchOptions, RabbitHandlerConfig } from '../options/rabbitmq-options.interface';

/**
 * A handler added at run time with `AmqpConnection.subscribe()`: returning (or resolving) acks,
 * returning `new Nack()` rejects, throwing (also synchronously) retries or dead-letters as configured.
 */
export type SubscribeHandler<T = unknown> = (payload: T, message: ConsumeMessage, headers: Record<string, unknown>) => unknown;

/** A batch handler added at run time: the payloads, raw messages and headers of the batch, in delivery order. See `BatchResult`. */
export type BatchSubscribeHandler<T = unknown> = (
  payloads: T[],
  messages: ConsumeMessage[],
  headers: Array<Record<string, unknown>>,
) => BatchResult | Promise<BatchResult>;

/** An RPC handler added at run time: what it returns (or resolves to) is the reply; what it throws is sent to the caller as an error. */
export type RpcHandler<T = unknown, R = unknown> = (payload: T, message: ConsumeMessage, headers: Record<string, unknown>) => R | Promise<R>;

/** Options of a consumer added at run time: those of `@RabbitSubscribe`, without batch settings. */
export type SubscribeOptions = RabbitHandlerConfig & { batch?: undefined; batchOptions?: undefined };

/** Options of a batch consumer added at run time: `batch` (or golevelup's `batchOptions`) is set. */
export type BatchSubscribeOptions = RabbitHandlerConfig & ({ batch: BatchConsumeOptions } | { batchOptions: GolevelupBatchOptions });
