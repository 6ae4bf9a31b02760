import { maskUrl } from './mask-url';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { JsonSerializer, type Serializer } from '../message/serializer';
import type {
  ErrorBehavior,
  ExchangeBindingConfig,
  ExchangeConfig,
  QueueConfig,
  RabbitHandlerConfig,
  RabbitMQModuleOptions,
} from './rabbitmq-options.interface';
import type { RetryOptions } from './retry-options.interface';
import type { DedupOptions } from './dedup-store.interface';
import type { DeadLetterOptions } from './dead-letter-options.interface';
import type { WarrenTelemetry } from './telemetry.interface';

/** The name of the connection used when a handler or a module does not name one. */
export const DEFAULT_CONNECTION_NAME = 'default';

/** Every default in one place. */
export const DEFAULTS = {
  heartbeatIntervalInSeconds: 5,
  reconnectTimeInSeconds: 1,
  noDelay: true,
  wait: true,
  initTimeout: 10_000,
  prefetchCount: 10,
  mandatory: true,
  persistent: true,
  publishTimeout: 10_000,
  rpcTimeout: 10_000,
  errorBehavior: 'dead-letter' as ErrorBehavior,
  maxMessageSize: 16 * 1024 * 1024,
  shutdownTimeout: 10_000,
  socketConnectTimeout: 10_000,
} as const;

/** Options with every default applied; what the rest of the library reads. */
export interface ResolvedOptions {
  name: string;
  uris: string[];
  connectionName: string;
  heartbeatIntervalInSeconds: number;
  reconnectTimeInSeconds: number;
  socketOptions: Record<string, unknown>;
  wait: boolean;
  initTimeout: number;
  exchanges: ExchangeConfig[];
  exchangeBindings: ExchangeBindingConfig[];
  queues: QueueConfig[];
  prefetchCount: number;
  channels: Record<string, { prefetchCount: number }>;
  mandatory: boolean;
  persistent: boolean;
  publishTimeout: number;
  rpcTimeout: number;
  errorBehavior: ErrorBehavior;
  serializer: Serializer;
  appId: string | undefined;
  maxMessageSize: number;
  handlers: Record<string, Partial<RabbitHandlerConfig>>;
  registerHandlers: boolean;
  enableControllerDiscovery: boolean;
  shutdownTimeout: number;
  defaultRetry: RetryOptions | undefined;
  defaultDeadLetter: DeadLetterOptions | boolean | undefined;
  defaultDedup: DedupOptions | undefined;
  telemetry: WarrenTelemetry[];
}

const ERROR_BEHAVIORS: ErrorBehavior[] = ['dead-letter', 'requeue', 'ack'];

/** Applies defaults and validates, reporting every problem in one InvalidOptionsError. */
export function resolveOptions(options: RabbitMQModuleOptions): ResolvedOptions {
  const problems: string[] = [];
  const name = options?.name ?? DEFAULT_CONNECTION_NAME;
  const uris = options?.uri === undefined ? [] : Array.isArray(options.uri) ? options.uri : [options.uri];
  if (uris.length === 0) problems.push(`uri is required: a broker URL such as 'amqp://guest:guest@127.0.0.1:5672', or a list of them`);
  for (const uri of uris) {
    if (typeof uri !== 'string' || !/^amqps?:\/\//i.test(uri)) {
      problems.push(`uri '${maskUrl(String(uri))}' must start with amqp:// or amqps://`);
    }
  }
  const positive = (field: string, value: number | undefined, allowZero = false): void => {
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
      problems.push(`${field} must be a ${allowZero ? 'non-negative' : 'positive'} number (got ${String(value)})`);
    }
  };
  positive('heartbeatIntervalInSeconds', options?.heartbeatIntervalInSeconds, true);
  positive('reconnectTimeInSeconds', options?.reconnectTimeInSeconds);
  positive('connectionInitOptions.timeout', options?.connectionInitOptions?.timeout);
  positive('prefetchCount', options?.prefetchCount, true);
  positive('publishOptions.timeout', options?.publishOptions?.timeout);
  positive('defaultRpcTimeout', options?.defaultRpcTimeout);
  positive('maxMessageSize', options?.maxMessageSize);
  positive('shutdownTimeout', options?.shutdownTimeout, true);
  if (options?.defaultErrorBehavior !== undefined && !ERROR_BEHAVIORS.includes(options.defaultErrorBehavior)) {
    problems.push(`defaultErrorBehavior must be one of ${ERROR_BEHAVIORS.join(', ')} (got '${options.defaultErrorBehavior}')`);
  }
  for (const exchange of options?.exchanges ?? []) {
    if (!exchange?.name) problems.push(`exchanges: every exchange needs a name`);
  }
  for (const queue of options?.queues ?? []) {
    if (!queue?.name) problems.push(`queues: every queue needs a name`);
  }
  const channels: Record<string, { prefetchCount: number }> = {};
  for (const [channelName, channel] of Object.entries(options?.channels ?? {})) {
    positive(`channels.${channelName}.prefetchCount`, channel?.prefetchCount, true);
    channels[channelName] = { prefetchCount: channel?.prefetchCount ?? options?.prefetchCount ?? DEFAULTS.prefetchCount };
  }
  if (problems.length > 0) throw new InvalidOptionsError(problems.map((p) => `connection '${name}': ${p}`));

  return {
    name,
    uris,
    connectionName: options.connectionName ?? name,
    heartbeatIntervalInSeconds: options.heartbeatIntervalInSeconds ?? DEFAULTS.heartbeatIntervalInSeconds,
    reconnectTimeInSeconds: options.reconnectTimeInSeconds ?? DEFAULTS.reconnectTimeInSeconds,
    socketOptions: {
      // A broker that accepts TCP but never answers must not hold start-up past its timeout.
      timeout: Math.min(DEFAULTS.socketConnectTimeout, options.connectionInitOptions?.timeout ?? DEFAULTS.initTimeout),
      ...options.socketOptions,
      noDelay: options.noDelay ?? DEFAULTS.noDelay,
    },
    wait: options.connectionInitOptions?.wait ?? DEFAULTS.wait,
    initTimeout: options.connectionInitOptions?.timeout ?? DEFAULTS.initTimeout,
    exchanges: options.exchanges ?? [],
    exchangeBindings: options.exchangeBindings ?? [],
    queues: options.queues ?? [],
    prefetchCount: options.prefetchCount ?? DEFAULTS.prefetchCount,
    channels,
    mandatory: options.publishOptions?.mandatory ?? DEFAULTS.mandatory,
    persistent: options.publishOptions?.persistent ?? DEFAULTS.persistent,
    publishTimeout: options.publishOptions?.timeout ?? DEFAULTS.publishTimeout,
    rpcTimeout: options.defaultRpcTimeout ?? DEFAULTS.rpcTimeout,
    errorBehavior: options.defaultErrorBehavior ?? DEFAULTS.errorBehavior,
    serializer: options.serializer ?? new JsonSerializer(),
    appId: options.appId,
    maxMessageSize: options.maxMessageSize ?? DEFAULTS.maxMessageSize,
    handlers: options.handlers ?? {},
    registerHandlers: options.registerHandlers ?? true,
    enableControllerDiscovery: options.enableControllerDiscovery ?? false,
    shutdownTimeout: options.shutdownTimeout ?? DEFAULTS.shutdownTimeout,
    defaultRetry: options.defaultRetry,
    defaultDeadLetter: options.defaultDeadLetter,
    defaultDedup: options.defaultDedup,
    telemetry: options.telemetry ?? [],
  };
}
