/** The name of the connection used when a handler or a module does not name one. */
export const DEFAULT_CONNECTION_NAME = 'default';

/** Metadata key under which `@RabbitSubscribe` / `@RabbitRPC` store their handler config. */
export const RABBIT_HANDLER_METADATA = 'warren:rabbit-handler';

/** Metadata key under which parameter decorators store their argument descriptions. */
export const RABBIT_ARGS_METADATA = 'warren:rabbit-args';

/** Context type reported by `ExecutionContext.getType()` inside Warren handlers. */
export const RABBIT_CONTEXT_TYPE = 'rmq';

/** Header names Warren sets on messages. None starts with `x-` (RabbitMQ 4 ignores client-set `x-` headers). */
export const WARREN_HEADERS = {
  /** RPC replies: `error` when the handler threw. */
  rpcStatus: 'warren-rpc-status',
  /** Delivery attempt number carried across delayed retries (1-based). */
  attempt: 'warren-attempt',
  /** Original exchange and routing key, kept across retries and dead-lettering. */
  originalExchange: 'warren-original-exchange',
  originalRoutingKey: 'warren-original-routing-key',
  /** The queue a retried or dead-lettered message came from. */
  originalQueue: 'warren-original-queue',
  /** Set by the publisher on a message without a messageId, so that a basic.return is matched to its publish. */
  publishId: 'warren-publish-id',
} as const;
