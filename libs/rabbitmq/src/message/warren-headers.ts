/**
 * Header names Warren sets on messages. None starts with `x-` (RabbitMQ 4 ignores client-set `x-` headers).
 * Every other part of the library reads and writes them through this folder.
 */
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

/**
 * Headers recording why a message was dead-lettered. All start with
 * `warren-dead-` (client-set `x-` headers are ignored by RabbitMQ 4); the
 * original exchange, routing key and queue travel in `warren-original-*`.
 */
export const DEAD_LETTER_HEADERS = {
  errorName: 'warren-dead-error-name',
  errorMessage: 'warren-dead-error-message',
  errorCode: 'warren-dead-error-code',
  errorStack: 'warren-dead-error-stack',
  handler: 'warren-dead-handler',
  attempts: 'warren-dead-attempts',
  firstFailureAt: 'warren-dead-first-failure-at',
  lastFailureAt: 'warren-dead-last-failure-at',
} as const;

/** When a message first failed; set on its first failure and kept across retries. */
export const FIRST_FAILURE_HEADER = 'warren-first-failure-at';

/** The last error of a message waiting for its retry, for whoever inspects the wait queue. */
export const LAST_ERROR_HEADER = 'warren-last-error';

/** When a message waiting for its retry is due back in its queue (ISO timestamp), for whoever inspects the wait queue. */
export const RETRY_DUE_HEADER = 'warren-retry-due-at';
