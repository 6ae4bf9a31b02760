import type { Options } from 'amqplib';

/** Message properties worth keeping when a message is re-published (to a wait queue, a dead-letter queue, or on replay). */
export function keptProperties(properties: Record<string, unknown>): Options.Publish {
  const kept: Options.Publish = { persistent: true, mandatory: true };
  for (const key of ['contentType', 'contentEncoding', 'messageId', 'correlationId', 'timestamp', 'type', 'appId', 'priority'] as const) {
    const value = properties[key];
    if (value !== undefined && value !== null) (kept as Record<string, unknown>)[key] = value;
  }
  return kept;
}
