import type { Options } from 'amqplib';
import type { QueueOptions } from '../options/rabbitmq-options.interface';

const TYPED_ARGUMENTS: Array<[keyof QueueOptions, string]> = [
  ['messageTtl', 'x-message-ttl'],
  ['expires', 'x-expires'],
  ['maxLength', 'x-max-length'],
  ['maxLengthBytes', 'x-max-length-bytes'],
  ['overflow', 'x-overflow'],
  ['deadLetterExchange', 'x-dead-letter-exchange'],
  ['deadLetterRoutingKey', 'x-dead-letter-routing-key'],
  ['maxPriority', 'x-max-priority'],
  ['type', 'x-queue-type'],
  ['deliveryLimit', 'x-delivery-limit'],
  ['singleActiveConsumer', 'x-single-active-consumer'],
  ['consumerTimeout', 'x-consumer-timeout'],
];

/** Whether the options make a quorum queue (typed `type` or the raw argument). */
export function isQuorum(options: QueueOptions = {}): boolean {
  return (options.arguments?.['x-queue-type'] ?? options.type) === 'quorum';
}

/**
 * Translates typed queue options into `assertQueue` options. Named queues are
 * durable by default; server-named ones exclusive and auto-deleted. Quorum and
 * stream queues are always durable and never exclusive or auto-deleted. A quorum
 * queue gets no `x-max-priority` from `maxPriority`: every version refuses it there,
 * and RabbitMQ 4 quorum queues have their two priority levels without it.
 */
export function toAssertQueueOptions(options: QueueOptions = {}, named = true): Options.AssertQueue {
  const args: Record<string, unknown> = {};
  const quorum = isQuorum(options);
  for (const [field, argument] of TYPED_ARGUMENTS) {
    const value = options[field];
    if (value !== undefined && !(quorum && field === 'maxPriority')) args[argument] = value;
  }
  Object.assign(args, options.arguments);
  const replicated = args['x-queue-type'] === 'quorum' || args['x-queue-type'] === 'stream';
  return {
    durable: replicated ? true : (options.durable ?? named),
    exclusive: replicated ? false : (options.exclusive ?? !named),
    autoDelete: replicated ? false : (options.autoDelete ?? !named),
    arguments: args,
  };
}
