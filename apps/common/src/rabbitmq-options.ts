import type { RabbitMQModuleOptions } from '@warren/rabbitmq';
import type { SampleConfig } from './sample-config';
import type { SampleNames } from './sample-names';

/**
 * The connection options every service starts from: the broker URL(s), a
 * connection name that shows up in the management UI, and every exchange of
 * the sample (declaring them everywhere means no service depends on another
 * having started first).
 */
export function baseRabbitOptions(config: SampleConfig, names: SampleNames, service: string): RabbitMQModuleOptions {
  return {
    uri: config.amqpUrls,
    connectionName: `${service}@${config.instanceId}`,
    appId: service,
    prefetchCount: config.prefetch,
    connectionInitOptions: { wait: true, timeout: 10_000 },
    exchanges: [
      { name: names.exchanges.orders, type: 'topic' },
      { name: names.exchanges.inventory, type: 'direct' },
      { name: names.exchanges.broadcast, type: 'fanout' },
      { name: names.exchanges.documents, type: 'headers' },
      { name: names.exchanges.notifications, type: 'topic' },
    ],
  };
}
