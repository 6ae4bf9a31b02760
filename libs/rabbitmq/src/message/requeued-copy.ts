import type { ConsumeMessage, Options } from 'amqplib';
import { WARREN_HEADERS } from './warren-headers';

/**
 * Publish options for a copy of `message` that takes its place on its own queue (published to the
 * default exchange, so routed by queue name): every property the broker lets a client set, and the
 * original exchange and routing key in `warren-original-*` so that routing by key still works.
 * Without `x-delivery-count`: RabbitMQ 4 passes a client-set one through to the next delivery,
 * where it would read as redeliveries that the copy never had. Without `userId`, which the broker
 * checks against the publishing connection's user.
 */
export function requeuedCopyOptions(message: ConsumeMessage): Options.Publish {
  const properties = message.properties as unknown as Record<string, unknown>;
  const headers: Record<string, unknown> = { ...(properties.headers as Record<string, unknown> | undefined) };
  delete headers['x-delivery-count'];
  headers[WARREN_HEADERS.originalExchange] ??= message.fields.exchange;
  headers[WARREN_HEADERS.originalRoutingKey] ??= message.fields.routingKey;
  const options: Record<string, unknown> = { mandatory: true, headers };
  for (const key of [
    'contentType',
    'contentEncoding',
    'deliveryMode',
    'priority',
    'correlationId',
    'replyTo',
    'expiration',
    'messageId',
    'timestamp',
    'type',
    'appId',
  ] as const) {
    const value = properties[key];
    if (value !== undefined && value !== null) options[key] = value;
  }
  return options;
}
