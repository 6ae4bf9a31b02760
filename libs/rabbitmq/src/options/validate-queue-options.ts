import type { QueueOptions } from './rabbitmq-options.interface';

/** Problems with typed queue options (`where` names the queue or handler), for the one InvalidOptionsError of start-up. */
export function validateQueueOptions(options: QueueOptions | undefined, where: string): string[] {
  if (options === undefined) return [];
  const problems: string[] = [];
  const { consumerTimeout, maxPriority, deliveryLimit } = options;
  if (consumerTimeout !== undefined && !(Number.isInteger(consumerTimeout) && consumerTimeout > 0)) {
    problems.push(`${where}: queueOptions.consumerTimeout must be a positive integer of ms (got ${String(consumerTimeout)})`);
  }
  if (maxPriority !== undefined && !(Number.isInteger(maxPriority) && maxPriority >= 1 && maxPriority <= 255)) {
    problems.push(`${where}: queueOptions.maxPriority must be an integer 1..255 (got ${String(maxPriority)})`);
  }
  if (deliveryLimit !== undefined && !Number.isInteger(deliveryLimit)) {
    problems.push(`${where}: queueOptions.deliveryLimit must be an integer (got ${String(deliveryLimit)})`);
  }
  return problems;
}
