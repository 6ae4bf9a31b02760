// Module
export { RabbitMQModule } from './rabbitmq.module';
export type { GolevelupOptionsFactory, RabbitMQModuleAsyncOptions, RabbitMQModuleRootOptions, RabbitMQOptionsFactory } from './rabbitmq.module';
export { getConnectionToken, getOptionsToken, InjectAmqpConnection, InjectRabbitMQConfig, RABBIT_CONFIG_TOKEN } from './rabbitmq.tokens';
export { DEFAULT_CONNECTION_NAME } from './options/resolve-options';
export { RABBIT_CONTEXT_TYPE } from './decorators/rabbitmq.constants';
export { WARREN_HEADERS } from './message/warren-headers';
export { redeliveryCount } from './message/message-headers';
export { PARTITION_HEADER, PARTITION_SLOTS, partitionOf, partitionQueueName } from './message/partition';

// Options
export type {
  BatchConsumeOptions,
  BindingConfig,
  ConnectionInitOptions,
  ErrorBehavior,
  ExchangeBindingConfig,
  ExchangeConfig,
  ExchangeType,
  GolevelupBatchOptions,
  PartitionFailureMode,
  PartitionOptions,
  PublishDefaults,
  QueueConfig,
  QueueOptions,
  RabbitHandlerConfig,
  RabbitMQModuleOptions,
  HandlerQueueOptions,
  ConsumerOptions,
  ConnectionManagerOptions,
  AmqpConnectObject,
  ChannelConfig,
} from './options/rabbitmq-options.interface';
export type { StreamConsumeOptions, StreamOffset, StreamOffsetStore } from './options/stream-options.interface';
export { MemoryStreamOffsetStore } from './stream/memory-offset.store';

// golevelup 9's names, on Warren's engine (docs/migration-from-golevelup.md)
export type {
  RabbitMQModuleOptions as RabbitMQConfig,
  RabbitHandlerConfig as MessageHandlerOptions,
  ExchangeConfig as RabbitMQExchangeConfig,
  QueueConfig as RabbitMQQueueConfig,
  ExchangeBindingConfig as RabbitMQExchangeBindingConfig,
  ChannelConfig as RabbitMQChannelConfig,
} from './options/rabbitmq-options.interface';
export { MessageHandlerErrorBehavior } from './options/message-handler-error-behavior';
export type { AssertQueueErrorHandler, MessageDeserializer, MessageErrorHandler, MessageSerializer } from './options/message-handler-error-behavior';
export {
  ackErrorHandler,
  defaultAssertQueueErrorHandler,
  defaultNackErrorHandler,
  forceDeleteAssertQueueErrorHandler,
  getHandlerForLegacyBehavior,
  requeueErrorHandler,
} from './consumer/error-handlers';
export type { LegacyMessageErrorHandler } from './consumer/error-handlers';
export { isRabbitContext, RABBIT_CONTEXT_TYPE_KEY } from './decorators/rabbit-context';
export { RABBIT_HEADER_TYPE, RABBIT_PARAM_TYPE, RABBIT_REQUEST_TYPE } from './decorators/rabbitmq.constants';
export { createPipesRpcParamDecorator } from './decorators/rabbit-params.decorator';
export { ChannelNotAvailableError } from './errors/channel-not-available.error';
export { ConnectionNotAvailableError } from './errors/connection-not-available.error';
export { NullMessageError } from './errors/null-message.error';

// Connections
export { AmqpConnection } from './facade/amqp-connection';
export type { BatchMessage, BatchPublishResult, PublishOptions, RequestOptions } from './facade/amqp-connection';
export { AmqpConnectionRegistry } from './facade/amqp-connection.registry';
/** golevelup's name: the same injectable class (`getConnection(name)`, `getConnections()`). */
export { AmqpConnectionRegistry as AmqpConnectionManager } from './facade/amqp-connection.registry';
export type { ConnectionStatus } from './connection/connection-status';
export { ConsumerHandle } from './consumer/consumer-handle';
export type { CancelConsumerOptions } from './consumer/consumer-handle';
export type { BatchSubscribeHandler, BatchSubscribeOptions, RpcHandler, SubscribeHandler, SubscribeOptions } from './facade/runtime-handler';

// Handlers
export { RabbitSubscribe } from './decorators/rabbit-subscribe.decorator';
export { RabbitRPC } from './decorators/rabbit-rpc.decorator';
export { makeRabbitDecorator, RabbitHandler } from './decorators/rabbit-handler.decorator';
export { RabbitHeader, RabbitPayload, RabbitRequest } from './decorators/rabbit-params.decorator';
export { Nack } from './consumer/nack';
export type { BatchItemResult, BatchResult } from './consumer/batch-result';
/** The raw message a handler receives (`@RabbitRequest()`, the second argument): amqplib's ConsumeMessage. */
export type { ConsumeMessage, MessageProperties } from 'amqplib';

// Serialization
export { JsonSerializer } from './message/serializer';
export type { Serializer } from './message/serializer';

// Errors
export { WarrenError } from './errors/warren.error';
export { InvalidOptionsError } from './errors/invalid-options.error';
export type { UnknownOption } from './errors/invalid-options.error';
export { ConnectionFailedError } from './errors/connection-failed.error';
export { ConnectionClosedError } from './errors/connection-closed.error';
export { ConnectionNotStartedError } from './errors/connection-not-started.error';
export { InvalidBatchResultError } from './errors/invalid-batch-result.error';
export { PublishTimeoutError } from './errors/publish-timeout.error';
export { BrokerBlockedError } from './errors/broker-blocked.error';
export { PublishNackedError } from './errors/publish-nacked.error';
export { PublishFailedError } from './errors/publish-failed.error';
export { UnroutableMessageError } from './errors/unroutable-message.error';
export { MessageTooLargeError } from './errors/message-too-large.error';
export { MessageEncodingError } from './errors/message-encoding.error';
export { MessageDeserializationError } from './errors/message-deserialization.error';
export { NoHandlerError } from './errors/no-handler.error';
export { PRECONDITION_FAILED_CODE, TopologyError } from './errors/topology.error';
export { RpcTimeoutError } from './errors/rpc-timeout.error';
export { RpcRemoteError } from './errors/rpc-remote.error';
export type { RemoteErrorPayload } from './errors/rpc-remote.error';
export { RpcReplyInvalidError } from './errors/rpc-reply-invalid.error';
export { RpcReplySerializationError } from './errors/rpc-reply-serialization.error';
export { NonRetryableError } from './errors/non-retryable.error';
export { DedupKeyError } from './errors/dedup-key.error';
export { DedupStoreUnavailableError } from './errors/dedup-store-unavailable.error';
export { UnknownConnectionError } from './errors/unknown-connection.error';
export { UnknownHandlerError } from './errors/unknown-handler.error';
export { TransportNotReadyError } from './errors/transport-not-ready.error';
export { UnsupportedOperationError } from './errors/unsupported-operation.error';
export { WaitForHandledTimeoutError } from './errors/wait-for-handled-timeout.error';
export { OutboxTransactionError } from './errors/outbox-transaction.error';
export { OutboxWriteError } from './errors/outbox-write.error';
export type { HandledCounts } from './errors/wait-for-handled-timeout.error';

// Publishing helpers
export { messageIdFrom } from './publisher/message-id';

// Retry
export { RetryPolicy } from './retry/retry-policy';
export type { BackoffOptions, ExponentialBackoffOptions, FixedBackoffOptions, ListBackoffOptions, RetryOptions } from './options/retry-options.interface';

// Dead letters
export { DeadLetterService } from './facade/dead-letter.service';
export type { DeadLetter, DeadLetterQueryOptions, ReplayOptions, ReplayResult } from './facade/dead-letter.service';
export type { DeadLetterOptions } from './options/dead-letter-options.interface';
export { DEAD_LETTER_HEADERS } from './message/warren-headers';
export type { DeadLetterReason } from './message/dead-letter-reason';

// Dedup (the Redis store has its own entry point: @warren/rabbitmq/redis)
export { MemoryDedupStore } from './dedup/memory-dedup.store';
export type { MemoryDedupStoreOptions } from './dedup/memory-dedup.store';
export type { DedupClaim, DedupMessage, DedupOptions, DedupStore } from './options/dedup-store.interface';

// Handler statistics
export type { HandlerStats } from './consumer/handler-stats';
export type { HandlerDescription } from './facade/handler-description';

// Telemetry hooks (Prometheus: @warren/rabbitmq/prometheus; OpenTelemetry: @warren/rabbitmq/opentelemetry)
export type {
  CallOutcome,
  ConsumeInfo,
  ConsumeOutcome,
  OutboxBacklogInfo,
  OutboxRelayedInfo,
  OutboxWriteInfo,
  PublishInfo,
  RequestInfo,
  WarrenTelemetry,
} from './options/telemetry.interface';
