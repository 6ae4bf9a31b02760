import type { Options } from 'amqplib';
import type { Serializer } from '../message/serializer';
import type { RetryOptions } from './retry-options.interface';
import type { DedupOptions } from './dedup-store.interface';
import type { DeadLetterOptions } from './dead-letter-options.interface';
import type { WarrenTelemetry } from './telemetry.interface';
import type {
  AssertQueueErrorHandler,
  MessageDeserializer,
  MessageErrorHandler,
  MessageHandlerErrorBehavior,
  MessageSerializer,
} from './message-handler-error-behavior';
import type { StreamConsumeOptions } from './stream-options.interface';

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
  /** golevelup's name: `false` is `passive: true`. @default true */
  createExchangeIfNotExists?: boolean;
}

/** An exchange-to-exchange binding: messages reaching `source` with a matching key also reach `destination`. */
export interface ExchangeBindingConfig {
  source: string;
  destination: string;
  /** @default '' */
  routingKey?: string;
  /** Header-matching arguments for headers exchanges (`x-match: 'all' | 'any'`, ...). */
  arguments?: Record<string, unknown>;
  /** golevelup's name for `routingKey`. */
  pattern?: string;
  /** golevelup's name for `arguments`. */
  args?: Record<string, unknown>;
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
  /**
   * Message priorities. Classic queues: `x-max-priority`, priorities 0..maxPriority. Quorum queues
   * take no such argument (the broker refuses it): on RabbitMQ 4.0+ they always have two levels, so
   * a message with priority 5 or more goes before those with 0-4 (or none), whatever the number here;
   * RabbitMQ 3.x quorum queues have no priorities and deliver in order (Warren logs a warning).
   * Must be an integer 1..255.
   */
  maxPriority?: number;
  /** `x-queue-type`. @default 'classic' (the broker's default) */
  type?: 'classic' | 'quorum' | 'stream';
  /** `x-delivery-limit` (quorum queues): deliveries before the broker dead-letters the message. */
  deliveryLimit?: number;
  /** `x-single-active-consumer`. */
  singleActiveConsumer?: boolean;
  /**
   * `x-consumer-timeout` (RabbitMQ 3.12+ and 4.x): ms a consumer may hold a delivery unacked before
   * the broker closes its channel (PRECONDITION_FAILED) and requeues the delivery; Warren opens the
   * channel again and consumes anew. Overrides the broker's `consumer_timeout` (30 min by default)
   * for this queue. RabbitMQ 3.10 and 3.11 ignore it (their global `consumer_timeout` applies):
   * Warren logs a warning when it declares such a queue there. Must be a positive integer.
   */
  consumerTimeout?: number;
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
  /** golevelup's form: amqplib's `assertQueue` options (the typed fields above win). */
  options?: QueueOptions;
  /** golevelup's form of one binding: the exchange... */
  exchange?: string;
  /** ...its routing key(s)... */
  routingKey?: string | string[];
  /** ...and its header-matching arguments. */
  bindQueueArguments?: Record<string, unknown>;
  /** golevelup's name: `false` is `passive: true`. @default true */
  createQueueIfNotExists?: boolean;
  /** The consumer tag of handlers consuming this queue that set none of their own. */
  consumerTag?: string;
}

/** A handler's queue options: the queue's, plus golevelup's consumer settings kept here. */
export interface HandlerQueueOptions extends QueueOptions {
  /** golevelup's place for the handler's `channel`. */
  channel?: string;
  /** golevelup's place for the handler's `consumerOptions`. */
  consumerOptions?: ConsumerOptions;
  /** golevelup's name for the handler's `bindingArguments`. */
  bindQueueArguments?: Record<string, unknown>;
}

/** Consumer options passed to `basic.consume`. */
export type ConsumerOptions = Pick<Options.Consume, 'priority' | 'exclusive' | 'arguments' | 'consumerTag'>;

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

/**
 * Batch consume: the handler gets up to `size` messages at once (an array of payloads; `@RabbitRequest()`
 * the array of raw messages, `@RabbitHeader()` the array of their headers).
 */
export interface BatchConsumeOptions {
  /** Messages handed to the handler at most; the handler's prefetch must be at least this. */
  size: number;
  /** ms after the first message of a batch arrives before a partial batch is handed over. @default 200 */
  timeoutMs?: number;
}

/** golevelup 9's `batchOptions`, with its names: `timeout` is Warren's `timeoutMs`. */
export interface GolevelupBatchOptions {
  /** Messages handed to the handler at most. */
  size: number;
  /** ms before a partial batch is handed over. @default 200 */
  timeout?: number;
}

/**
 * What a failed message does to the rest of its partition.
 * - `'block'`: it is retried in place (the handler's `retry` policy: `maxAttempts`, `backoff`), holding back
 *   the later messages of its partition, until it succeeds or is dead-lettered. Per-key order holds.
 * - `'delay'`: the usual delayed retry through a wait queue; later messages of the partition go ahead
 *   meanwhile, so a retried message is handled after messages published after it.
 */
export type PartitionFailureMode = 'block' | 'delay';

/** Partitioned, ordered consumption of one handler (see docs/cluster.md). */
export interface PartitionOptions {
  /** Partition queues, `<queue>.p0` .. `<queue>.p<count-1>`. An integer from 1 to 64. */
  count: number;
  /** @default 'block' */
  onFailure?: PartitionFailureMode;
  /**
   * ms between the heartbeats instances exchange to share out the partitions. An instance silent for
   * three heartbeats counts as gone, and its partitions are shared out again (the broker has already
   * moved them to a standby consumer at once; this only rebalances).
   * @default 1000
   */
  heartbeatMs?: number;
}

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
  queueOptions?: HandlerQueueOptions;
  /** Header-matching arguments for the `exchange`/`routingKey` binding (headers exchanges). */
  bindingArguments?: Record<string, unknown>;
  /** Further bindings of the queue, to other exchanges or with other arguments. */
  bindings?: BindingConfig[];
  /** Unacked messages the handler's consumer may hold (RabbitMQ applies prefetch per consumer). @default the module's `prefetchCount` */
  prefetch?: number;
  /** Consume on a named shared channel (declared in the module's `channels`) instead of the handler's own. */
  channel?: string;
  /**
   * What a thrown error does when no retry is configured or left. golevelup's
   * `MessageHandlerErrorBehavior` values are accepted. @default the module's `defaultErrorBehavior` ('dead-letter')
   */
  errorBehavior?: ErrorBehavior | MessageHandlerErrorBehavior;
  /**
   * golevelup's `errorHandler`: settles a failed message itself (`channel.ack` / `nack` / `reject`);
   * wins over `errorBehavior`. On an RPC handler it settles the request after the error is sent to the caller.
   */
  errorHandler?: MessageErrorHandler;
  /** golevelup's name: `false` is `queueOptions.passive: true`. @default true */
  createQueueIfNotExists?: boolean;
  /**
   * Called when the handler's queue cannot be declared as configured; returns the queue to consume
   * (e.g. `forceDeleteAssertQueueErrorHandler` deletes and re-creates it, losing its messages).
   * @default the error stops the handler (TopologyError in `topologyErrors`), retried while connected
   */
  assertQueueErrorHandler?: AssertQueueErrorHandler;
  /** golevelup's per-handler deserializer; wins over `serializer` for incoming bodies. */
  deserializer?: MessageDeserializer;
  /** RPC replies sent persistent. @default false */
  usePersistentReplyTo?: boolean;
  /** Accept bodies that are not valid JSON: the payload is then the raw Buffer. @default false */
  allowNonJsonMessages?: boolean;
  /** Deserializes message bodies. @default the module's serializer */
  serializer?: Serializer;
  /** Consumer options passed to `basic.consume` (priority, exclusive, arguments, consumerTag). */
  consumerOptions?: ConsumerOptions;
  /** golevelup's name for `consumerOptions.consumerTag`. */
  consumerTag?: string;
  /** Delayed retry with backoff before dead-lettering. Off unless set here or in the module defaults. */
  retry?: RetryOptions | false;
  /** Dead-letter queue for messages that fail for good. */
  deadLetter?: DeadLetterOptions | boolean;
  /** Idempotent consumer: process each message key once. */
  dedup?: DedupOptions | false;
  /**
   * Hand the handler an array of up to `size` messages. Each message is settled by the handler's outcome
   * for the batch, or by its own entry when the handler returns an array (see `BatchResult`); retry,
   * dead letters and dedup apply per message. Subscribe handlers only.
   */
  batch?: BatchConsumeOptions;
  /** golevelup's name for `batch` (`{ size, timeout }`). Give one or the other. */
  batchOptions?: GolevelupBatchOptions;
  /**
   * Ordered, partitioned consumption: `count` single-active-consumer queues fed by the partition key
   * publishers give (`publish(..., { partitionKey })`), every instance consuming every partition,
   * partitions shared out among the instances, messages of one partition handled one at a time in order.
   */
  partitions?: PartitionOptions;
  /**
   * Read a stream queue (`queueOptions: { type: 'stream' }`) from an offset, one message at a time,
   * with the reader's position kept in a store so that a restarted reader resumes after the last
   * message it handled. Each such handler is a reader of its own, even on a queue another handler reads.
   */
  stream?: StreamConsumeOptions;
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
  /**
   * With `wait`, `false` lets start-up go on when the first connection fails within `timeout`;
   * the connection keeps retrying in the background. @default true
   */
  reject?: boolean;
  /** Do not log failed connection attempts. @default false */
  skipConnectionFailedLogging?: boolean;
  /** Do not log lost connections. @default false */
  skipDisconnectFailedLogging?: boolean;
}

/** golevelup's `connectionManagerOptions` (amqp-connection-manager's): the same settings as Warren's top-level fields. */
export interface ConnectionManagerOptions {
  /** Same as the top-level `heartbeatIntervalInSeconds`. */
  heartbeatIntervalInSeconds?: number;
  /** Same as the top-level `reconnectTimeInSeconds`. */
  reconnectTimeInSeconds?: number;
  /** Same as `socketOptions` (TLS material, `timeout`, `clientProperties`...). */
  connectionOptions?: Record<string, unknown>;
}

/** A broker address as amqplib's connect object (golevelup accepts it as `uri`). */
export interface AmqpConnectObject {
  protocol?: string;
  hostname?: string;
  port?: number;
  username?: string;
  password?: string;
  vhost?: string;
  heartbeat?: number;
  frameMax?: number;
  locale?: string;
}

/** A named shared channel. */
export interface ChannelConfig {
  /** Prefetch of each consumer on the channel. @default the module's `prefetchCount` */
  prefetchCount?: number;
  /** Handlers that name no `channel` consume on this one (golevelup's `default`). @default false */
  default?: boolean;
}

/** Options of one connection (one `forRoot`). */
export interface RabbitMQModuleOptions {
  /** The connection's name; handlers and publishers refer to it. @default 'default' */
  name?: string;
  /** One broker URL, or several tried in turn (failover); amqplib's connect objects are accepted too. */
  uri: string | AmqpConnectObject | Array<string | AmqpConnectObject>;
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
  /** golevelup's place for `heartbeatIntervalInSeconds`, `reconnectTimeInSeconds` and `socketOptions`. */
  connectionManagerOptions?: ConnectionManagerOptions;
  /**
   * Request/reply uses RabbitMQ's direct reply-to, consumed on a channel of its own from connect.
   * `false` opens no such channel, and `request` then fails at once with UnsupportedOperationError. @default true
   */
  enableDirectReplyTo?: boolean;
  /** The type of exchanges that name none. @default 'topic' */
  defaultExchangeType?: ExchangeType;
  /** Exchanges declared on connect. */
  exchanges?: ExchangeConfig[];
  /** Exchange-to-exchange bindings declared on connect. */
  exchangeBindings?: ExchangeBindingConfig[];
  /** Queues (with bindings) declared on connect, independent of handlers. */
  queues?: QueueConfig[];
  /** Default prefetch of handler channels. @default 10 */
  prefetchCount?: number;
  /** Named shared channels handlers can consume on (`channel: 'name'`); `prefetchCount` applies to each consumer on it. */
  channels?: Record<string, ChannelConfig>;
  /** Publishing defaults. */
  publishOptions?: PublishDefaults;
  /** Properties applied to every published message (golevelup's name); a publish's own options win. */
  defaultPublishOptions?: Options.Publish;
  /** Default RPC timeout in ms. @default 10000 */
  defaultRpcTimeout?: number;
  /** What a thrown error does when no retry is configured or left. @default 'dead-letter' */
  defaultErrorBehavior?: ErrorBehavior | MessageHandlerErrorBehavior;
  /** golevelup's name for `defaultErrorBehavior`, for subscribe handlers. */
  defaultSubscribeErrorBehavior?: ErrorBehavior | MessageHandlerErrorBehavior;
  /** The `errorHandler` of RPC handlers that have none: settles a failed request after the error is sent to the caller. */
  defaultRpcErrorHandler?: MessageErrorHandler;
  /** Serializer of bodies (golevelup's serializer function is accepted too). @default JSON */
  serializer?: Serializer | MessageSerializer;
  /** golevelup's module deserializer: body and raw message in, payload out. */
  deserializer?: MessageDeserializer;
  /** `appId` property of published messages. */
  appId?: string;
  /** Largest message body in bytes, outgoing (rejected before sending) and incoming (dead-lettered). @default 16 MiB */
  maxMessageSize?: number;
  /** Per-handler overrides by handler name, e.g. queue names from `ConfigService`. */
  handlers?: Record<string, Partial<RabbitHandlerConfig>>;
  /** The `handlers` entry applied to handlers that have none of their own (golevelup's `defaultHandler`). */
  defaultHandler?: string;
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
