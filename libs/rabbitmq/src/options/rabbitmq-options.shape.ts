import type { OptionShape } from './option-shape';
import type { QueueOptions, RabbitHandlerConfig } from './rabbitmq-options.interface';

/**
 * Every key the module and handler options know, at every depth: Warren's names and
 * golevelup 9's (translated in resolve-options.ts and resolve-handler-config.ts). A key
 * missing here fails start-up, so a new option is added here together with its interface.
 */

const ERROR_BEHAVIOR: OptionShape = { literal: ['dead-letter', 'requeue', 'ack', 'ACK', 'NACK', 'REQUEUE'] };
const STRINGS: OptionShape = { oneOf: ['string', { each: 'string' }] };

export const QUEUE_OPTIONS_FIELDS = {
  durable: 'boolean',
  exclusive: 'boolean',
  autoDelete: 'boolean',
  messageTtl: 'number',
  expires: 'number',
  maxLength: 'number',
  maxLengthBytes: 'number',
  overflow: { literal: ['drop-head', 'reject-publish', 'reject-publish-dlx'] },
  deadLetterExchange: 'string',
  deadLetterRoutingKey: 'string',
  maxPriority: 'number',
  type: { literal: ['classic', 'quorum', 'stream'] },
  deliveryLimit: 'number',
  singleActiveConsumer: 'boolean',
  consumerTimeout: 'number',
  arguments: 'record',
  passive: 'boolean',
  // Exactly the keys of QueueOptions: a field added to the interface without its shape does not compile.
} as const satisfies Record<keyof QueueOptions, OptionShape>;

const BINDING: OptionShape = { fields: { exchange: 'string', routingKey: STRINGS, arguments: 'record' } };

const CONSUMER_OPTIONS: OptionShape = { fields: { priority: 'number', exclusive: 'boolean', arguments: 'record', consumerTag: 'string' } };

const RETRY: OptionShape = {
  fields: {
    maxAttempts: 'number',
    backoff: {
      fields: {
        type: { literal: ['fixed', 'exponential', 'list'] },
        delay: 'number',
        initialDelay: 'number',
        multiplier: 'number',
        maxDelay: 'number',
        jitter: 'number',
        delays: { each: 'number' },
      },
    },
    retryable: 'function',
    retryOn: { each: 'function' },
    immediateRetries: 'number',
  },
};

const DEAD_LETTER: OptionShape = { fields: { queue: 'string', exchange: 'string', ttl: 'number', maxLength: 'number' } };

const DEDUP: OptionShape = { fields: { key: 'function', ttl: 'number', lease: 'number', store: { instance: 'a DedupStore' } } };

/** Batch consume: Warren's names. */
const BATCH: OptionShape = { fields: { size: 'number', timeoutMs: 'number' } };

/** golevelup's batchOptions: its names; its errorHandler is refused with what to do instead. */
const BATCH_OPTIONS: OptionShape = {
  fields: {
    size: 'number',
    timeout: 'number',
    errorHandler: {
      rejected: "return an array of outcomes from the batch handler (undefined, a Nack or an Error per message), or set the handler's errorBehavior",
    },
  },
};

const PARTITIONS: OptionShape = { fields: { count: 'number', onFailure: { literal: ['block', 'delay'] }, heartbeatMs: 'number' } };

/** Stream reader keys; their values are checked by validateStream, with what each must be. */
const STREAM: OptionShape = { fields: { offset: 'any', store: 'any', reader: 'any' } };

const HANDLER_FIELDS = {
  name: 'string',
  connection: 'string',
  exchange: 'string',
  routingKey: STRINGS,
  queue: 'string',
  queueOptions: {
    fields: {
      ...QUEUE_OPTIONS_FIELDS,
      channel: 'string',
      consumerOptions: CONSUMER_OPTIONS,
      bindQueueArguments: 'record',
    },
  },
  bindingArguments: 'record',
  bindings: { each: BINDING },
  prefetch: 'number',
  channel: 'string',
  errorBehavior: ERROR_BEHAVIOR,
  errorHandler: 'function',
  assertQueueErrorHandler: 'function',
  createQueueIfNotExists: 'boolean',
  allowNonJsonMessages: 'boolean',
  serializer: { instance: 'a Serializer' },
  deserializer: 'function',
  usePersistentReplyTo: 'boolean',
  consumerOptions: CONSUMER_OPTIONS,
  consumerTag: 'string',
  retry: { oneOf: [{ literal: [false] }, RETRY] },
  deadLetter: { oneOf: ['boolean', DEAD_LETTER] },
  dedup: { oneOf: [{ literal: [false] }, DEDUP] },
  batch: BATCH,
  batchOptions: BATCH_OPTIONS,
  partitions: PARTITIONS,
  stream: STREAM,
} as const satisfies Record<string, OptionShape>;

/** Every key of RabbitHandlerConfig has a shape (golevelup's extra names may be listed too): a field added to the interface alone does not compile. */
type MissingHandlerFields = Exclude<keyof RabbitHandlerConfig, keyof typeof HANDLER_FIELDS>;
const EVERY_HANDLER_FIELD: [MissingHandlerFields] extends [never] ? true : MissingHandlerFields = true;
void EVERY_HANDLER_FIELD;

export const HANDLER_SHAPE: OptionShape = { fields: HANDLER_FIELDS };

const CONNECT_OBJECT: OptionShape = {
  fields: {
    protocol: 'string',
    hostname: 'string',
    port: 'number',
    username: 'string',
    password: 'string',
    vhost: 'string',
    heartbeat: 'number',
    frameMax: 'number',
    locale: 'string',
  },
};

export const MODULE_SHAPE: OptionShape = {
  fields: {
    name: 'string',
    uri: { oneOf: ['string', CONNECT_OBJECT, { each: { oneOf: ['string', CONNECT_OBJECT] } }] },
    connectionName: 'string',
    heartbeatIntervalInSeconds: 'number',
    reconnectTimeInSeconds: 'number',
    socketOptions: 'record',
    noDelay: 'boolean',
    connectionInitOptions: {
      fields: { wait: 'boolean', timeout: 'number', reject: 'boolean', skipConnectionFailedLogging: 'boolean', skipDisconnectFailedLogging: 'boolean' },
    },
    connectionManagerOptions: {
      fields: {
        heartbeatIntervalInSeconds: 'number',
        reconnectTimeInSeconds: 'number',
        connectionOptions: 'record',
        findServers: { rejected: "give the brokers as a list in uri: ['amqp://a', 'amqp://b'] (tried in turn)" },
      },
    },
    enableDirectReplyTo: 'boolean',
    defaultExchangeType: 'string',
    exchanges: {
      each: { fields: { name: 'string', type: 'string', options: 'record', passive: 'boolean', createExchangeIfNotExists: 'boolean' } },
    },
    exchangeBindings: {
      each: { fields: { source: 'string', destination: 'string', routingKey: 'string', arguments: 'record', pattern: 'string', args: 'record' } },
    },
    queues: {
      each: {
        fields: {
          ...QUEUE_OPTIONS_FIELDS,
          name: 'string',
          bindings: { each: BINDING },
          options: { fields: QUEUE_OPTIONS_FIELDS },
          exchange: 'string',
          routingKey: STRINGS,
          bindQueueArguments: 'record',
          createQueueIfNotExists: 'boolean',
          consumerTag: 'string',
        },
      },
    },
    prefetchCount: 'number',
    channels: { values: { fields: { prefetchCount: 'number', default: 'boolean' } } },
    publishOptions: { fields: { mandatory: 'boolean', persistent: 'boolean', timeout: 'number' } },
    defaultPublishOptions: 'record',
    defaultRpcTimeout: 'number',
    defaultErrorBehavior: ERROR_BEHAVIOR,
    defaultSubscribeErrorBehavior: ERROR_BEHAVIOR,
    defaultRpcErrorHandler: 'function',
    serializer: { oneOf: ['function', { instance: 'a Serializer' }] },
    deserializer: 'function',
    appId: 'string',
    maxMessageSize: 'number',
    handlers: {
      values: {
        oneOf: [
          HANDLER_SHAPE,
          {
            rejected:
              'one handler per entry: several registrations of one method are several handlers; give each its own method (or a run-time consumer) and its own entry',
          },
        ],
      },
    },
    defaultHandler: 'string',
    registerHandlers: 'boolean',
    enableControllerDiscovery: 'boolean',
    shutdownTimeout: 'number',
    defaultRetry: RETRY,
    defaultDeadLetter: { oneOf: ['boolean', DEAD_LETTER] },
    defaultDedup: DEDUP,
    telemetry: { each: { instance: 'a WarrenTelemetry hook' } },
    logger: {
      rejected: "Warren logs through Nest's Logger: give your logger to the application (NestFactory.create(AppModule, { logger }) or app.useLogger(logger))",
    },
  },
};
