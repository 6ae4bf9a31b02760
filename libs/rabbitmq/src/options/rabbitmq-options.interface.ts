import type { Options } from 'amqplib';
import type { Serializer } from '../message/serializer';
import type { RetryOptions } from './retry-options.interface';
import type { DedupOptions } from './dedup-store.interface';
import type { DeadLetterOptions } from './dead-letter-options.interface';
import type { WarrenTelemetry } from './telemetry.interface';

/** The exchange types RabbitMQ ships; any other string names a plugin's type. */
export type ExchangeType = 'direct' | 'fanout' | 'topic' | 'headers' | (string & {});

/** An exchange to declare on connect (and again on every reconnect). */
export interface ExchangeConfig {
  name: string;
  /** @default 'topic' */
  type?: ExchangeType;
  /** Passed to `assertExchange`. Durable by default. */
  options?: Options.AssertExchange;
  /**
   * Only check that the exchange exists (passive declare) instead of declaring it.
   * @default false
   */
  passive?: boolean;
}

/** An exchange-to-exchange binding: messages reaching `source` with a matching key also reach `destination`. */
export interface ExchangeBindingConfig {
  source: string;
  destination: string;
  /** @default '' */
  routingKey?: string;
  /** Header-matching arguments for headers exchanges (`x-match: 'all' | 'any'`, ...). */
  arguments?: Record<string, unknown>;
}

/** Typed queue options, translated to RabbitMQ's `x-` arguments. */
export interface QueueOptions {
  /** @default true for named queues, false for server-named ones */
  durable?: boolean;
  /** @default false for named queues, true for server-named ones */
  exclusive?: boolean;
  /** @default false for named queues, true for server-named ones */
  autoDelete?: boolean;
  /** `x-message-ttl`: ms a message may wait in the queue. */
  messageTtl?: number;
  /** `x-expires`: ms an unused queue lives. */
  expires?: number;
  /** `x-max-length`: messages the queue holds at most. */
  maxLength?: number;
  /** `x-max-length-bytes`. */
  maxLengthBytes?: number;
  /** `x-overflow`: what happens when the queue is full. */
  overflow?: 'drop-head' | 'reject-publish' | 'reject-publish-dlx';
  /** `x-dead-letter-exchange`. */
  deadLetterExchange?: string;
  /** `x-dead-letter-routing-key`. */
  deadLetterRoutingKey?: string;
  /** `x-max-priority`: enables priorities 0..maxPriority (classic queues). */
  maxPriority?: number;
  /** `x-queue-type`. @default 'classic' (the broker's default) */
  type?: 'classic' | 'quorum' | 'stream';
  /** `x-delivery-limit` (quorum queues): deliveries before the broker dead-letters the message. */
  deliveryLimit?: number;
  /** `x-single-active-consumer`. */
  singleActiveConsumer?: boolean;
  /** Any other queue argument, passed as is (wins over the typed fields above). */
  arguments?: Record<string, unknown>;
  /**
   * Only check that the queue exists (passive declare) instead of declaring it.
   * @default false
   */
  passive?: boolean;
}

/** A queue declared at the module level, with its bindings. */
export interface QueueConfig extends QueueOptions {
  name: string;
  bindings?: BindingConfig[];
}

/** Binds a queue to an exchange. */
export interface BindingConfig {
  exchange: string;
  /** One key, or several (one binding each). @default '' */
  routingKey?: string | string[];
  /** Header-matching arguments for headers exchanges, e.g. `{ 'x-match': 'all', kind: 'invoice' }`. */
  arguments?: Record<string, unknown>;
}

/** What to do with a message whose handler threw (and no retry is left). */
export type ErrorBehavior =
  /** nack without requeue: the queue's dead-letter exchange, or the `deadLetter` queue, gets it. */
  | 'dead-letter'
  /** nack with requeue: the broker redelivers at once. Beware of hot loops. */
  | 'requeue'
  /** ack and drop the message, logging the error. */
  | 'ack';

/** Options of one `@RabbitSubscribe` / `@RabbitRPC` handler. */
export interface RabbitHandlerConfig {
  /**
   * The handler's name, used in logs, in module-level `handlers` overrides and to cancel/resume it.
   * @default 'ClassName.methodName'
   */
  name?: string;
  /** The connection the handler consumes from. @default 'default' */
  connection?: string;
  /** The exchange to bind the queue to. Several exchanges: use `bindings`. */
  exchange?: string;
  /** One routing key or several (one binding each). */
  routingKey?: string | string[];
  /** The queue. Without a name the broker names an exclusive, auto-deleted queue. */
  queue?: string;
  queueOptions?: QueueOptions;
  /** Header-matching arguments for the `exchange`/`routingKey` binding (headers exchanges). */
  bindingArguments?: Record<string, unknown>;
  /** Further bindings of the queue, to other exchanges or with other arguments. */
  bindings?: BindingConfig[];
  /** Unacked messages the handler's consumer may hold (RabbitMQ applies prefetch per consumer). @default the module's `prefetchCount` */
  prefetch?: number;
  /** Consume on a named shared channel (declared in the module's `channels`) instead of the handler's own. */
  channel?: string;
  /** What a thrown error does when no retry is configured or left. @default the module's `defaultErrorBehavior` ('dead-letter') */
  errorBehavior?: ErrorBehavior;
  /** Accept bodies that are not valid JSON: the payload is then the raw Buffer. @default false */
  allowNonJsonMessages?: boolean;
  /** Deserializes message bodies. @default the module's serializer */
  serializer?: Serializer;
  /** Consumer options passed to `basic.consume` (priority, exclusive, arguments). */
  consumerOptions?: Pick<Options.Consume, 'priority' | 'exclusive' | 'arguments'>;
  /** Delayed retry with backoff before dead-lettering. Off unless set here or in the module defaults. */
  retry?: RetryOptions | false;
  /** Dead-letter queue for messages that fail for good. */
  deadLetter?: DeadLetterOptions | boolean;
  /** Idempotent consumer: process each message key once. */
  dedup?: DedupOptions | false;
}

/** Module-level defaults for publishing. */
export interface PublishDefaults {
  /** Reject a publish the broker cannot route to any queue. @default true */
  mandatory?: boolean;
  /** Persistent messages survive a broker restart. @default true */
  persistent?: boolean;
  /** ms to wait for the broker's confirm (including time spent waiting for a connection). @default 10000 */
  timeout?: number;
}

/** When and how the first connection is made. */
export interface ConnectionInitOptions {
  /** Block application start-up until connected. @default true */
  wait?: boolean;
  /** With `wait`, fail start-up after this many ms. @default 10000 */
  timeout?: number;
}

/** Options of one connection (one `forRoot`). */
export interface RabbitMQModuleOptions {
  /** The connection's name; handlers and publishers refer to it. @default 'default' */
  name?: string;
  /** One broker URL, or several tried in turn (failover). */
  uri: string | string[];
  /** Shown in the broker's connection list (`connection_name` client property). @default the connection's name */
  connectionName?: string;
  /** @default 5 */
  heartbeatIntervalInSeconds?: number;
  /** Wait between reconnect attempts. @default 1 */
  reconnectTimeInSeconds?: number;
  /**
   * Socket options passed to amqplib, e.g. TLS `ca`, `cert`, `key`, `passphrase`, `servername`;
   * `timeout` bounds each connection handshake (@default 10000, or `connectionInitOptions.timeout` if lower).
   */
  socketOptions?: Record<string, unknown>;
  /** TCP_NODELAY; without it request/reply latency is ~40 ms. @default true */
  noDelay?: boolean;
  connectionInitOptions?: ConnectionInitOptions;
  /** Exchanges declared on connect. */
  exchanges?: ExchangeConfig[];
  /** Exchange-to-exchange bindings declared on connect. */
  exchangeBindings?: ExchangeBindingConfig[];
  /** Queues (with bindings) declared on connect, independent of handlers. */
  queues?: QueueConfig[];
  /** Default prefetch of handler channels. @default 10 */
  prefetchCount?: number;
  /** Named shared channels handlers can consume on (`channel: 'name'`); `prefetchCount` applies to each consumer on it. */
  channels?: Record<string, { prefetchCount?: number }>;
  /** Publishing defaults. */
  publishOptions?: PublishDefaults;
  /** Default RPC timeout in ms. @default 10000 */
  defaultRpcTimeout?: number;
  /** What a thrown error does when no retry is configured or left. @default 'dead-letter' */
  defaultErrorBehavior?: ErrorBehavior;
  /** Serializer of bodies. @default JSON */
  serializer?: Serializer;
  /** `appId` property of published messages. */
  appId?: string;
  /** Largest message body in bytes, outgoing (rejected before sending) and incoming (dead-lettered). @default 16 MiB */
  maxMessageSize?: number;
  /** Per-handler overrides by handler name, e.g. queue names from `ConfigService`. */
  handlers?: Record<string, Partial<RabbitHandlerConfig>>;
  /** Register discovered handlers on this connection. @default true */
  registerHandlers?: boolean;
  /** Also scan controllers for handlers. @default false */
  enableControllerDiscovery?: boolean;
  /** ms `app.close()` waits for in-flight handlers. @default 10000 */
  shutdownTimeout?: number;
  /** Defaults for handlers' `retry`. */
  defaultRetry?: RetryOptions;
  /** Defaults for handlers' `deadLetter`. */
  defaultDeadLetter?: DeadLetterOptions | boolean;
  /** Defaults for handlers' `dedup` (store, ttl, lease). */
  defaultDedup?: DedupOptions;
  /** Metrics and tracing hooks, e.g. `new PrometheusTelemetry()` from `@warren/rabbitmq/prometheus`. */
  telemetry?: WarrenTelemetry[];
}
