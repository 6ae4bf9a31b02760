import { BenchSettings, ConsumerFeatures, ContenderUnavailableError, DeclaredSettings, Route } from '../contender';
import { RabbitModuleApi, RabbitModuleContender, RabbitModuleFlavour } from './rabbit-module.contender-base';

/**
 * Warren, written against its planned public API (it mirrors golevelup's):
 *
 *   RabbitMQModule.forRoot({ uri, connectionName, noDelay, prefetchCount, exchanges,
 *                            connectionInitOptions, publishOptions })
 *   @RabbitSubscribe({ exchange, routingKey, queue, queueOptions, prefetch, retry?, dedup?, batch? })
 *   @RabbitRPC({ exchange, routingKey, queue })        return value = reply
 *   amqp.publish(exchange, routingKey, message, options?)   resolves on the confirm
 *   amqp.request<T>({ exchange, routingKey, payload, timeout })
 *
 * The package is loaded at run time, not imported: the suite must compile and
 * run while the library is unfinished. A missing export makes the contender
 * unavailable (its trials are skipped), never a compile error.
 */

const PACKAGE = '@warren/rabbitmq';
const REQUIRED_EXPORTS = ['RabbitMQModule', 'AmqpConnection', 'RabbitSubscribe', 'RabbitRPC'] as const;

/** Retry and dedup settings of the `consume-retry-dedup` scenario (the example). */
export const WARREN_RETRY = { maxAttempts: 3, backoff: { type: 'fixed', delay: 1000 } } as const;
export const WARREN_DEDUP = { ttl: 60_000 } as const;
/** ms a partial batch waits in the `consume-batch` scenario (only the last batch of a trial is partial). */
export const WARREN_BATCH_TIMEOUT_MS = 50;

export function loadWarrenApi(): RabbitModuleApi {
  let mod: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(PACKAGE) as Record<string, unknown>;
  } catch (err) {
    throw new ContenderUnavailableError('warren', `cannot load ${PACKAGE} (is the library built? \`npm run build\`): ${(err as Error).message.split('\n')[0]}`);
  }
  const missing = REQUIRED_EXPORTS.filter((name) => typeof mod[name] !== 'function');
  if (missing.length) throw new ContenderUnavailableError('warren', `${PACKAGE} does not export ${missing.join(', ')}`);
  const forRoot = (mod.RabbitMQModule as { forRoot?: unknown }).forRoot;
  if (typeof forRoot !== 'function') throw new ContenderUnavailableError('warren', `${PACKAGE} RabbitMQModule has no static forRoot()`);
  return mod as unknown as RabbitModuleApi;
}

function flavour(api: RabbitModuleApi): RabbitModuleFlavour {
  return {
    name: 'warren',
    api,

    rootOptions(settings: BenchSettings, exchanges: readonly string[]) {
      return {
        uri: settings.url,
        connectionName: settings.namePrefix,
        noDelay: true,
        prefetchCount: settings.prefetch,
        exchanges: exchanges.map((name) => ({ name, type: 'direct' })),
        connectionInitOptions: { wait: true, timeout: 30_000 },
        publishOptions: { persistent: true },
        defaultRpcTimeout: settings.rpcTimeoutMs,
      };
    },

    subscribeOptions(settings: BenchSettings, route: Route, features?: ConsumerFeatures) {
      return {
        exchange: route.exchange,
        routingKey: route.routingKey,
        queue: route.queue,
        queueOptions: { durable: true },
        prefetch: settings.prefetch,
        ...(features?.retry ? { retry: WARREN_RETRY } : {}),
        ...(features?.dedup ? { dedup: WARREN_DEDUP } : {}),
        ...(features?.batch ? { batch: { size: features.batch, timeoutMs: WARREN_BATCH_TIMEOUT_MS } } : {}),
        ...(features?.partitions ? { partitions: { count: features.partitions } } : {}),
      };
    },

    rpcOptions(_settings: BenchSettings, route: Route) {
      return { exchange: route.exchange, routingKey: route.routingKey, queue: route.queue };
    },

    publishOptions() {
      return { persistent: true };
    },

    requestOptions() {
      return {};
    },

    checkFeatures() {
      // Warren supports retry and dedup; if the options are wrong, start-up fails and the trial reports it.
    },

    declared(kind, settings): DeclaredSettings {
      const notes: string[] = [];
      if (kind === 'rpc') {
        notes.push('request() sends non-persistent requests (expiration = timeout) on a channel without confirms, as the amqplib reference does');
      }
      return {
        confirms: kind === 'publish' ? true : kind === 'rpc' ? false : null,
        noDelay: true,
        prefetch: kind === 'publish' ? null : settings.prefetch,
        persistent: kind === 'publish' ? true : kind === 'rpc' ? false : null,
        notes,
      };
    },
  };
}

export function createWarrenContender(): RabbitModuleContender {
  return new RabbitModuleContender(flavour(loadWarrenApi()));
}
