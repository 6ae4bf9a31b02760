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
