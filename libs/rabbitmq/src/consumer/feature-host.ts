import type { Options } from 'amqplib';
import type { ResolvedOptions } from '../options/resolve-options';
import type { TopologyDeclarer } from '../topology/topology-declarer';

/** What the optional features (retry, dead letters, dedup) may use of their connection. */
export interface FeatureHost {
  readonly name: string;
  readonly options: ResolvedOptions;
  readonly topologyDeclarer: TopologyDeclarer;
  /** Publishes an already serialized message and resolves on the broker's confirm. */
  publishRaw(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void>;
}

/** Message properties worth keeping when a message is re-published (to a wait queue, a dead-letter queue, or on replay). */
export function keptProperties(properties: Record<string, unknown>): Options.Publish {
  const kept: Options.Publish = { persistent: true, mandatory: true };
  for (const key of ['contentType', 'contentEncoding', 'messageId', 'correlationId', 'timestamp', 'type', 'appId', 'priority'] as const) {
    const value = properties[key];
    if (value !== undefined && value !== null) (kept as Record<string, unknown>)[key] = value;
  }
  return kept;
}
