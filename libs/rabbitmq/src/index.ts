// Module
export { RabbitMQModule } from './rabbitmq.module';
export type { RabbitMQModuleAsyncOptions, RabbitMQModuleRootOptions, RabbitMQOptionsFactory } from './rabbitmq.module';
export { getConnectionToken, InjectAmqpConnection } from './rabbitmq.tokens';
export { DEFAULT_CONNECTION_NAME } from './options/resolve-options';
export { RABBIT_CONTEXT_TYPE } from './decorators/rabbitmq.constants';
export { WARREN_HEADERS } from './message/warren-headers';

// Options
export type {
  BindingConfig,
  ConnectionInitOptions,
  ErrorBehavior,
  ExchangeBindingConfig,
  ExchangeConfig,
  ExchangeType,
  PublishDefaults,
  QueueConfig,
  QueueOptions,
  RabbitHandlerConfig,
  RabbitMQModuleOptions,
} from './options/rabbitmq-options.interface';

// Connections
export { AmqpConnection } from './facade/amqp-connection';
export type { BatchMessage, BatchPublishResult, PublishOptions, RequestOptions } from './facade/amqp-connection';
export { AmqpConnectionRegistry } from './facade/amqp-connection.registry';
export type { ConnectionStatus } from './connection/connection-status';

// Handlers
export { RabbitSubscribe } from './decorators/rabbit-subscribe.decorator';
export { RabbitRPC } from './decorators/rabbit-rpc.decorator';
export { RabbitHandler } from './decorators/rabbit-handler.decorator';
export { RabbitHeader, RabbitPayload, RabbitRequest } from './decorators/rabbit-params.decorator';
export { Nack } from './consumer/nack';
/** The raw message a handler receives (`@RabbitRequest()`, the second argument): amqplib's ConsumeMessage. */
export type { ConsumeMessage, MessageProperties } from 'amqplib';

// Serialization
export { JsonSerializer } from './message/serializer';
export type { Serializer } from './message/serializer';

// Errors
export { WarrenError } from './errors/warren.error';
export { InvalidOptionsError } from './errors/invalid-options.error';
export { ConnectionFailedError } from './errors/connection-failed.error';
export { ConnectionClosedError } from './errors/connection-closed.error';
export { PublishTimeoutError } from './errors/publish-timeout.error';
export { BrokerBlockedError } from './errors/broker-blocked.error';
export { PublishNackedError } from './errors/publish-nacked.error';
export { PublishFailedError } from './errors/publish-failed.error';
export { UnroutableMessageError } from './errors/unroutable-message.error';
export { MessageTooLargeError } from './errors/message-too-large.error';
export { MessageEncodingError } from './errors/message-encoding.error';
export { MessageDeserializationError } from './errors/message-deserialization.error';
export { NoHandlerError } from './errors/no-handler.error';
export { TopologyError } from './errors/topology.error';
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

// Telemetry hooks (Prometheus: @warren/rabbitmq/prometheus; OpenTelemetry: @warren/rabbitmq/opentelemetry)
export type { CallOutcome, ConsumeInfo, ConsumeOutcome, PublishInfo, RequestInfo, WarrenTelemetry } from './options/telemetry.interface';
