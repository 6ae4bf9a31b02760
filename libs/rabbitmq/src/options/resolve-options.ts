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
import { validateQueueOptions } from './validate-queue-options';
import type { Options } from 'amqplib';
import { checkShape, toInvalidOptions } from './option-shape';
import { MODULE_SHAPE } from './rabbitmq-options.shape';
import { normalizeErrorBehavior, serializerFrom } from './golevelup-names';
import type { AmqpConnectObject, ChannelConfig, ConnectionInitOptions, QueueOptions } from './rabbitmq-options.interface';
import type { MessageErrorHandler } from './message-handler-error-behavior';

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
  /** With `wait`, whether a first connection that fails in time fails start-up (`connectionInitOptions.reject`). */
  rejectOnInitFailure: boolean;
  logConnectFailures: boolean;
  logDisconnects: boolean;
  /** Whether the direct reply-to consumer (for `request`) is opened. */
  directReplyTo: boolean;
  exchanges: ExchangeConfig[];
  exchangeBindings: ExchangeBindingConfig[];
  queues: QueueConfig[];
  prefetchCount: number;
  channels: Record<string, { prefetchCount: number }>;
  /** The shared channel handlers without a `channel` consume on (golevelup's `default: true`). */
  defaultChannel: string | undefined;
  mandatory: boolean;
  /** Properties applied to every publish before its own (`defaultPublishOptions` less `mandatory` and `persistent`). */
  publishProperties: Options.Publish;
  persistent: boolean;
  publishTimeout: number;
  rpcTimeout: number;
  errorBehavior: ErrorBehavior;
  /** The `errorHandler` of RPC handlers that name none. */
  rpcErrorHandler: MessageErrorHandler | undefined;
  serializer: Serializer;
  appId: string | undefined;
  maxMessageSize: number;
  handlers: Record<string, Partial<RabbitHandlerConfig>>;
  defaultHandler: string | undefined;
  registerHandlers: boolean;
  enableControllerDiscovery: boolean;
  shutdownTimeout: number;
  defaultRetry: RetryOptions | undefined;
  defaultDeadLetter: DeadLetterOptions | boolean | undefined;
  defaultDedup: DedupOptions | undefined;
  telemetry: WarrenTelemetry[];
  /** The options as given, for `AmqpConnection.configuration`. */
  given: RabbitMQModuleOptions;
}

function isObject(value: unknown): value is object {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The objects of a list option (the shape check reported anything else). */
function objectsIn<T>(list: T[] | undefined): T[] {
  return Array.isArray(list) ? list.filter((item) => isObject(item)) : [];
}

/** Applies defaults and validates, reporting every problem in one InvalidOptionsError. */
export function resolveOptions(options: RabbitMQModuleOptions): ResolvedOptions {
  const name = options?.name ?? DEFAULT_CONNECTION_NAME;
  const where = `connection '${name}': `;
  // Keys and types first; the checks below skip what has the wrong type (reported here), and every problem is thrown together.
  const shape = checkShape(options, MODULE_SHAPE);
  const { messages: shapeProblems, unknown: unknownOptions } = toInvalidOptions(shape, '');
  if (!isObject(options))
    throw new InvalidOptionsError(
      shapeProblems.map((p) => `${where}${p}`),
      unknownOptions,
    );
  const problems: string[] = [...shapeProblems];
  const manager = options?.connectionManagerOptions ?? {};
  const init: ConnectionInitOptions = options?.connectionInitOptions ?? {};
  const rawUris = options?.uri === undefined ? [] : Array.isArray(options.uri) ? options.uri : [options.uri];
  const uris = rawUris.map((uri) => (isObject(uri) ? urlOf(uri) : uri));
  if (uris.length === 0) problems.push(`uri is required: a broker URL such as 'amqp://guest:guest@127.0.0.1:5672', or a list of them`);
  for (const uri of uris) {
    // Not a string: the shape check reported it.
    if (typeof uri === 'string' && !/^amqps?:\/\//i.test(uri)) {
      problems.push(`uri '${maskUrl(String(uri))}' must start with amqp:// or amqps://`);
    }
  }
  /** A Warren name and golevelup's name for the same setting: either may be given, not two different values. */
  const either = <T>(field: string, value: T | undefined, otherField: string, other: T | undefined): T | undefined => {
    if (value !== undefined && other !== undefined && value !== other) {
      problems.push(`${field} (${String(value)}) and ${otherField} (${String(other)}) are the same setting with two values; keep one`);
    }
    return value ?? other;
  };
  const heartbeat = either(
    'heartbeatIntervalInSeconds',
    options?.heartbeatIntervalInSeconds,
    'connectionManagerOptions.heartbeatIntervalInSeconds',
    manager.heartbeatIntervalInSeconds,
  );
  const reconnect = either(
    'reconnectTimeInSeconds',
    options?.reconnectTimeInSeconds,
    'connectionManagerOptions.reconnectTimeInSeconds',
    manager.reconnectTimeInSeconds,
  );
  const errorBehaviorGiven = either(
    'defaultErrorBehavior',
    normalizeErrorBehavior(options?.defaultErrorBehavior),
    'defaultSubscribeErrorBehavior',
    normalizeErrorBehavior(options?.defaultSubscribeErrorBehavior),
  );
  const positive = (field: string, value: number | undefined, allowZero = false): void => {
    // Not a finite number: the shape check reported it.
    if (typeof value !== 'number' || !Number.isFinite(value)) return;
    if (value < 0 || (!allowZero && value === 0)) {
      problems.push(`${field} must be a ${allowZero ? 'non-negative' : 'positive'} number (got ${String(value)})`);
    }
  };
  positive('heartbeatIntervalInSeconds', heartbeat, true);
  positive('reconnectTimeInSeconds', reconnect);
  positive('connectionInitOptions.timeout', init.timeout);
  positive('prefetchCount', options?.prefetchCount, true);
  positive('publishOptions.timeout', options?.publishOptions?.timeout);
  positive('defaultRpcTimeout', options?.defaultRpcTimeout);
  positive('maxMessageSize', options?.maxMessageSize);
  positive('shutdownTimeout', options?.shutdownTimeout, true);
  const exchanges: ExchangeConfig[] = objectsIn(options.exchanges).map((exchange, index) => {
    if (!exchange?.name) problems.push(`exchanges[${index}]: every exchange needs a name`);
    const { createExchangeIfNotExists, ...rest } = exchange;
    return {
      ...rest,
      type: exchange.type ?? options.defaultExchangeType,
      passive: exchange.passive ?? (createExchangeIfNotExists === undefined ? undefined : !createExchangeIfNotExists),
    };
  });
  const exchangeBindings: ExchangeBindingConfig[] = objectsIn(options.exchangeBindings).map((binding, index) => {
    const { pattern, args, ...rest } = binding;
    if (!binding.source || !binding.destination) problems.push(`exchangeBindings[${index}]: every exchange binding needs a source and a destination`);
    return { ...rest, routingKey: either(`exchangeBindings[${index}].routingKey`, rest.routingKey, 'pattern', pattern), arguments: rest.arguments ?? args };
  });
  const queues: QueueConfig[] = objectsIn(options.queues).map((queue, index) => {
    if (!queue?.name) problems.push(`queues[${index}]: every queue needs a name`);
    const { options: assertOptions, exchange, routingKey, bindQueueArguments, createQueueIfNotExists, ...rest } = queue;
    const bindings = [...(rest.bindings ?? [])];
    if (exchange !== undefined) bindings.push({ exchange, routingKey: routingKey ?? '', arguments: bindQueueArguments });
    else if (routingKey !== undefined) problems.push(`queues[${index}].routingKey needs an exchange to bind to (queues[${index}].exchange)`);
    const typed: QueueOptions = { ...assertOptions, ...rest };
    if (queue?.name) problems.push(...validateQueueOptions(typed, `queues: '${queue.name}'`));
    return {
      ...typed,
      name: queue.name,
      bindings,
      passive: rest.passive ?? (createQueueIfNotExists === undefined ? undefined : !createQueueIfNotExists),
    };
  });
  const channels: Record<string, { prefetchCount: number }> = {};
  const defaults: string[] = [];
  for (const [channelName, channel] of Object.entries<ChannelConfig>(isObject(options.channels) ? options.channels : {})) {
    if (!isObject(channel)) continue;
    positive(`channels.${channelName}.prefetchCount`, channel?.prefetchCount, true);
    channels[channelName] = { prefetchCount: channel?.prefetchCount ?? options?.prefetchCount ?? DEFAULTS.prefetchCount };
    if (channel?.default === true) defaults.push(channelName);
  }
  if (defaults.length > 1) problems.push(`channels: only one channel can be the default (got ${defaults.join(', ')})`);
  const handlers = options?.handlers ?? {};
  if (options?.defaultHandler !== undefined && handlers[options.defaultHandler] === undefined) {
    problems.push(`defaultHandler '${options.defaultHandler}' names no entry of handlers (known: ${Object.keys(handlers).join(', ') || 'none'})`);
  }
  const { mandatory, persistent, ...publishProperties } = options?.defaultPublishOptions ?? {};
  if (problems.length > 0)
    throw new InvalidOptionsError(
      problems.map((p) => `${where}${p}`),
      unknownOptions.map((u) => ({ ...u, path: `${where}${u.path}` })),
    );

  return {
    name,
    uris,
    connectionName: options.connectionName ?? name,
    heartbeatIntervalInSeconds: heartbeat ?? DEFAULTS.heartbeatIntervalInSeconds,
    reconnectTimeInSeconds: reconnect ?? DEFAULTS.reconnectTimeInSeconds,
    socketOptions: {
      // A broker that accepts TCP but never answers must not hold start-up past its timeout.
      timeout: Math.min(DEFAULTS.socketConnectTimeout, init.timeout ?? DEFAULTS.initTimeout),
      ...manager.connectionOptions,
      ...options.socketOptions,
      noDelay: options.noDelay ?? DEFAULTS.noDelay,
    },
    wait: init.wait ?? DEFAULTS.wait,
    initTimeout: init.timeout ?? DEFAULTS.initTimeout,
    rejectOnInitFailure: init.reject ?? true,
    logConnectFailures: !(init.skipConnectionFailedLogging ?? false),
    logDisconnects: !(init.skipDisconnectFailedLogging ?? false),
    directReplyTo: options.enableDirectReplyTo ?? true,
    exchanges,
    exchangeBindings,
    queues,
    prefetchCount: options.prefetchCount ?? DEFAULTS.prefetchCount,
    channels,
    defaultChannel: defaults[0],
    mandatory: options.publishOptions?.mandatory ?? mandatory ?? DEFAULTS.mandatory,
    persistent: options.publishOptions?.persistent ?? persistent ?? DEFAULTS.persistent,
    publishProperties,
    publishTimeout: options.publishOptions?.timeout ?? DEFAULTS.publishTimeout,
    rpcTimeout: options.defaultRpcTimeout ?? DEFAULTS.rpcTimeout,
    errorBehavior: errorBehaviorGiven ?? DEFAULTS.errorBehavior,
    rpcErrorHandler: options.defaultRpcErrorHandler,
    serializer: serializerFrom(options.serializer, options.deserializer) ?? new JsonSerializer(),
    appId: options.appId,
    maxMessageSize: options.maxMessageSize ?? DEFAULTS.maxMessageSize,
    handlers,
    defaultHandler: options.defaultHandler,
    registerHandlers: options.registerHandlers ?? true,
    enableControllerDiscovery: options.enableControllerDiscovery ?? false,
    shutdownTimeout: options.shutdownTimeout ?? DEFAULTS.shutdownTimeout,
    defaultRetry: options.defaultRetry,
    defaultDeadLetter: options.defaultDeadLetter,
    defaultDedup: options.defaultDedup,
    telemetry: options.telemetry ?? [],
    given: options,
  };
}

/** amqplib's connect object as a URL (golevelup accepts either as `uri`). */
function urlOf(address: AmqpConnectObject): string {
  const protocol = (address.protocol ?? 'amqp').replace(/:$/, '');
  const auth = address.username === undefined ? '' : `${encodeURIComponent(address.username)}:${encodeURIComponent(address.password ?? '')}@`;
  const port = address.port === undefined ? '' : `:${address.port}`;
  const vhost = address.vhost === undefined ? '' : `/${encodeURIComponent(address.vhost)}`;
  const query = new URLSearchParams();
  if (address.heartbeat !== undefined) query.set('heartbeat', String(address.heartbeat));
  if (address.frameMax !== undefined) query.set('frameMax', String(address.frameMax));
  if (address.locale !== undefined) query.set('locale', address.locale);
  const search = query.size > 0 ? `?${query.toString()}` : '';
  return `${protocol}://${auth}${address.hostname ?? 'localhost'}${port}${vhost}${search}`;
}
