import type { Channel } from 'amqplib';
import type { QueueOptions } from '../options/rabbitmq-options.interface';
import { isQuorum } from './queue-arguments';

/** A broker's version as it announces itself in connection.start, e.g. { major: 4, minor: 0 }. */
export interface BrokerVersion {
  major: number;
  minor: number;
}

/** Reads `major.minor[.patch]`; undefined for anything else (a broker that does not say, a proxy). */
export function parseBrokerVersion(value: unknown): BrokerVersion | undefined {
  const match = typeof value === 'string' ? /^(\d+)\.(\d+)/.exec(value) : null;
  return match ? { major: Number(match[1]), minor: Number(match[2]) } : undefined;
}

/** The version of the broker a channel is open to, or undefined if it does not say. */
export function brokerVersionOf(channel: Channel): BrokerVersion | undefined {
  const properties = (channel as { connection?: { serverProperties?: { version?: unknown } } }).connection?.serverProperties;
  return parseBrokerVersion(properties?.version);
}

function atLeast(version: BrokerVersion, major: number, minor: number): boolean {
  return version.major > major || (version.major === major && version.minor >= minor);
}

/**
 * What a queue's typed options ask for that this broker version does not do, one sentence each,
 * for a warning when the queue is declared. An unknown version gets none.
 */
export function unsupportedQueueFeatures(queue: string, options: QueueOptions, version: BrokerVersion | undefined): string[] {
  if (version === undefined) return [];
  const notes: string[] = [];
  const raw = options.arguments ?? {};
  if (options.consumerTimeout !== undefined && raw['x-consumer-timeout'] === undefined && !atLeast(version, 3, 12)) {
    notes.push(
      `queue '${queue}': consumerTimeout needs RabbitMQ 3.12 or later; ${version.major}.${version.minor} ignores it and applies its global consumer_timeout (30 min by default)`,
    );
  }
  if (options.maxPriority !== undefined && isQuorum(options) && version.major < 4) {
    notes.push(
      `queue '${queue}': quorum queues have message priorities from RabbitMQ 4.0; on ${version.major}.${version.minor} maxPriority is ignored and messages are delivered in order`,
    );
  }
  return notes;
}
