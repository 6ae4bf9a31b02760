import { messageIdFrom } from '@warren/rabbitmq';

/**
 * The id of the order a customer's own order id maps to: deterministic, so a
 * repeated POST finds the order it created before, and the event published for
 * it carries the same messageId every time.
 */
export function orderIdOf(customerId: string, clientOrderId: string): string {
  return messageIdFrom('order', customerId, clientOrderId);
}
