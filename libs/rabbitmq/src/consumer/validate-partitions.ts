import { PARTITION_SLOTS } from '../message/partition';
import type { HandlerDescriptor } from './handler-descriptor';

/** ms between partition group heartbeats unless a handler says otherwise. */
export const DEFAULT_PARTITION_HEARTBEAT_MS = 1000;

/** Problems with a handler's `partitions` option; `all` are the connection's handlers (a partitioned queue is the handler's alone). */
export function validatePartitions(handler: HandlerDescriptor, all: HandlerDescriptor[]): string[] {
  const partitions = handler.config.partitions;
  if (partitions === undefined) return [];
  const problems: string[] = [];
  const name = handler.name;
  const config = handler.config;
  if (typeof partitions !== 'object' || partitions === null) return [`${name}: partitions must be an object like { count: 8 } (got ${String(partitions)})`];
  if (!Number.isInteger(partitions.count) || partitions.count < 1 || partitions.count > PARTITION_SLOTS) {
    problems.push(`${name}: partitions.count must be an integer from 1 to ${PARTITION_SLOTS} (got ${String(partitions.count)})`);
  }
  if (partitions.onFailure !== undefined && partitions.onFailure !== 'block' && partitions.onFailure !== 'delay') {
    problems.push(`${name}: partitions.onFailure must be 'block' or 'delay' (got ${String(partitions.onFailure)})`);
  }
  const heartbeat = partitions.heartbeatMs;
  if (heartbeat !== undefined && (!Number.isInteger(heartbeat) || heartbeat < 50)) {
    problems.push(`${name}: partitions.heartbeatMs must be an integer of at least 50 (got ${String(heartbeat)})`);
  }
  if (!config.queue) problems.push(`${name}: partitions need a named queue (set 'queue'): the partition queues are named after it`);
  if (handler.kind !== 'subscribe') problems.push(`${name}: partitions apply to @RabbitSubscribe handlers, not RPC handlers`);
  if (config.channel !== undefined) problems.push(`${name}: partitions cannot use a shared channel ('channel'): each partition has its own`);
  if (config.assertQueueErrorHandler !== undefined) {
    problems.push(
      `${name}: partitions declare their queues themselves; assertQueueErrorHandler does not apply (remove it, or delete a conflicting partition queue)`,
    );
  }
  const type = config.queueOptions?.type ?? config.queueOptions?.arguments?.['x-queue-type'];
  if (type === 'stream') problems.push(`${name}: partitions cannot be stream queues (a stream has no single active consumer over AMQP 0.9.1)`);
  if (config.queueOptions?.exclusive === true) problems.push(`${name}: partition queues cannot be exclusive: every instance consumes them`);
  if (config.consumerOptions?.exclusive === true)
    problems.push(`${name}: partitions cannot use an exclusive consumer: every instance stands in line for each partition`);
  if (!config.exchange && (config.bindings ?? []).length === 0) {
    problems.push(`${name}: partitions need a binding (set 'exchange' and 'routingKey', or 'bindings'): messages reach the partitions through them`);
  }
  const sharing = all.filter((other) => other !== handler && other.config.queue === config.queue);
  if (config.queue && sharing.length > 0) {
    problems.push(
      `${name}: the partitioned queue '${config.queue}' is also used by ${sharing.map((h) => h.name).join(', ')}; a partitioned queue has one handler`,
    );
  }
  return problems;
}
