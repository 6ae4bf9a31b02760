import { AmqpConnection, RabbitMQModule, RabbitRPC, RabbitSubscribe } from '@golevelup/nestjs-rabbitmq';
import { BenchSettings, ConsumerFeatures, DeclaredSettings, Route, ScenarioUnsupportedError } from '../contender';
import { RabbitModuleApi, RabbitModuleContender, RabbitModuleFlavour } from './rabbit-module.contender-base';

/** Seconds amqp-connection-manager waits before reconnecting (its default is the 5 s heartbeat). */
export const GOLEVELUP_RECONNECT_SECONDS = 1;

const api: RabbitModuleApi = {
  RabbitMQModule,
  AmqpConnection,
  RabbitSubscribe,
  RabbitRPC,
};

/**
 * @golevelup/nestjs-rabbitmq 9: publishes through amqp-connection-manager's
 * ChannelWrapper, a confirm channel by default, whose `publish` resolves on
 * the broker's confirm. Subscribers ack after the handler returns. Prefetch is
 * per channel (module level `prefetchCount`); handlers share one channel.
 */
const flavour: RabbitModuleFlavour = {
  name: 'golevelup',
  api,

  rootOptions(settings: BenchSettings, exchanges: readonly string[]) {
    return {
      uri: settings.url,
      prefetchCount: settings.prefetch,
      exchanges: exchanges.map((name) => ({ name, type: 'direct', options: { durable: true } })),
      connectionInitOptions: { wait: true, timeout: 30_000, reject: true },
      connectionManagerOptions: {
        connectionOptions: { noDelay: true, clientProperties: { connection_name: settings.namePrefix } },
        reconnectTimeInSeconds: GOLEVELUP_RECONNECT_SECONDS,
      },
      // Applies to publish() and request(); RPC replies stay non-persistent (usePersistentReplyTo: false).
      defaultPublishOptions: { persistent: true },
      defaultRpcTimeout: settings.rpcTimeoutMs,
      enableDirectReplyTo: true,
    };
  },

  subscribeOptions(_settings: BenchSettings, route: Route) {
    return {
      exchange: route.exchange,
      routingKey: route.routingKey,
      queue: route.queue,
      queueOptions: { durable: true },
    };
  },

  rpcOptions(_settings: BenchSettings, route: Route) {
    return {
      exchange: route.exchange,
      routingKey: route.routingKey,
      queue: route.queue,
      queueOptions: { durable: true },
    };
  },

  publishOptions() {
    return { persistent: true, contentType: 'application/json' };
  },

  requestOptions() {
    return { publishOptions: { persistent: true, contentType: 'application/json' } };
  },

  checkFeatures(features?: ConsumerFeatures) {
    if (features?.retry || features?.dedup || features?.partitions) throw new ScenarioUnsupportedError('golevelup', 'retry/dedup/partitions');
    if (features?.batch) throw new ScenarioUnsupportedError('golevelup', 'batch consume (not run as a reference)');
  },

  declared(kind, settings): DeclaredSettings {
    const notes: string[] = [];
    if (kind === 'rpc') notes.push('request() awaits the confirm and the reply; replies are not persistent');
    if (kind === 'consume' || kind === 'fleet') notes.push('prefetch is per channel (module prefetchCount); all handlers share the default channel');
    if (kind === 'fleet') notes.push(`reconnect delay ${GOLEVELUP_RECONNECT_SECONDS} s (connectionManagerOptions.reconnectTimeInSeconds)`);
    const publishes = kind === 'publish' || kind === 'rpc';
    return {
      confirms: publishes ? true : null,
      noDelay: true,
      prefetch: kind === 'publish' ? null : settings.prefetch,
      persistent: publishes ? true : null,
      notes,
    };
  },
};

export function createGolevelupContender(): RabbitModuleContender {
  return new RabbitModuleContender(flavour);
}
