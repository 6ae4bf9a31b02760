/** How a delivery ended. */
export type ConsumeOutcome =
  /** The handler succeeded; acked. */
  | 'acked'
  /** Sent to a wait queue for a delayed retry; acked. */
  | 'retried'
  /** Parked in the dead-letter queue; acked. */
  | 'dead-lettered'
  /** Nacked without requeue (the queue's dead-letter exchange, if any, has it). */
  | 'rejected'
  /** Nacked with requeue. */
  | 'requeued'
  /** Acked and dropped after a failure (`errorBehavior: 'ack'`). */
  | 'dropped'
  /** Processed before (dedup); acked without running the handler. */
  | 'duplicate'
  /** An RPC handler threw; the error was sent back and the request acked. */
  | 'replied-error';

/** How a publish or request ended: 'ok', or the error's code (PUBLISH_TIMEOUT, UNROUTABLE, RPC_REMOTE_ERROR, ...). */
export type CallOutcome = string;

export interface PublishInfo {
  connection: string;
  exchange: string;
  routingKey: string;
  messageId: string | undefined;
}

export interface ConsumeInfo {
  connection: string;
  queue: string;
  /** The handler's name, or undefined when no handler takes the routing key. */
  handler: string | undefined;
  exchange: string;
  routingKey: string;
  messageId: string | undefined;
  headers: Record<string, unknown>;
  /** 1 for the first delivery, raised by delayed retries. */
  attempt: number;
  /**
   * Times the broker delivered this message before (requeues, crashed or closed consumers): 0 for a
   * first delivery; on a quorum queue the broker's `x-delivery-count`, on a classic queue 1 for any redelivery.
   */
  redeliveries: number;
}

export interface RequestInfo {
  connection: string;
  exchange: string;
  routingKey: string;
}

/** A message written into the transactional outbox (inside the application's transaction). */
export interface OutboxWriteInfo {
  table: string;
  exchange: string;
  routingKey: string;
  messageId: string;
}

/** What the outbox relay did with one row. */
export interface OutboxRelayedInfo {
  table: string;
  exchange: string;
  routingKey: string;
  messageId: string;
  /** sent: confirmed; parked: unroutable; failed: refused for good (error code on the row); retry: a transient failure, tried again later. */
  outcome: 'sent' | 'parked' | 'failed' | 'retry';
  /** For sent rows: ms from the row's write (in the committed transaction) to its confirm, on the database's clock. */
  latencyMs: number | undefined;
  /** The typed error's code for the other outcomes. */
  errorCode: string | undefined;
}

/** The outbox table's backlog, read every `backlogInterval`. */
export interface OutboxBacklogInfo {
  table: string;
  pending: number;
  parked: number;
  failed: number;
  /** ms since the oldest pending row was written; 0 when none is pending. */
  oldestPendingAgeMs: number;
}

/**
 * Hooks for metrics and tracing. Every hook is optional; with no telemetry
 * configured the hot path does not call any. `headers` may be written to
 * (trace context); callbacks returned are called once with the outcome.
 */
export interface WarrenTelemetry {
  /** A publish starts; return a callback for when it is confirmed or fails. */
  onPublish?(info: PublishInfo, headers: Record<string, unknown>): ((outcome: CallOutcome) => void) | void;
  /** A request starts; return a callback for when its reply (or error) arrives. */
  onRequest?(info: RequestInfo, headers: Record<string, unknown>): ((outcome: CallOutcome) => void) | void;
  /** Wraps the handling of one delivery: call `next()` (inside your context/span) and return its outcome. */
  onConsume?(info: ConsumeInfo, next: () => Promise<ConsumeOutcome>): Promise<ConsumeOutcome>;
  /** An RPC reply is about to be sent from inside a handler's `onConsume`: add headers (trace context). */
  onReply?(headers: Record<string, unknown>): void;
  /** The connection's state changed: a ConnectionStatus, e.g. 'blocked' while the broker blocks publishing (memory or disk alarm). */
  onConnectionStatus?(connection: string, status: string): void;
  /** A message is written into the outbox inside the application's transaction: add headers (trace context), stored with the row and published with it. */
  onOutboxWrite?(info: OutboxWriteInfo, headers: Record<string, unknown>): void;
  /** The outbox relay published, parked, failed or deferred one row. */
  onOutboxRelayed?(info: OutboxRelayedInfo): void;
  /** The outbox backlog was read. */
  onOutboxBacklog?(info: OutboxBacklogInfo): void;
}
