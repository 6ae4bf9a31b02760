/** The outcome of `DedupStore.claim`. */
export type DedupClaim =
  /** The key is now held by the caller, until the lease ends; `token` proves ownership. */
  | { status: 'claimed'; token: string }
  /** The key was completed before (and is still remembered): skip the message. */
  | { status: 'duplicate' }
  /** Another claim holds the key and its lease is still live: try again later. */
  | { status: 'in-progress' };

/**
 * Remembers which message keys were processed, for idempotent consumers. A key goes
 * absent -> claimed (with a lease, so a crashed consumer's claim ends) -> done (for a TTL)
 * or back to absent (released). Implementations must make each call atomic, and a
 * `token` whose lease ended and was claimed again must not change the key.
 */
export interface DedupStore {
  /** Claims `key` for processing with a lease; 'duplicate' if it was completed before, 'in-progress' if another claim's lease is still live. */
  claim(key: string, leaseMs: number): Promise<DedupClaim>;
  /** Marks a claimed key done for `ttlMs` (only if `token` still owns it). */
  complete(key: string, token: string, ttlMs: number): Promise<void>;
  /** Drops a claim so a retry can run (only if `token` still owns it). */
  release(key: string, token: string): Promise<void>;
  /** Optional: close connections owned by the store. */
  close?(): Promise<void>;
}

/** What a dedup `key` function sees of a message. */
export interface DedupMessage {
  /** The deserialized body. */
  payload: unknown;
  /** AMQP properties (`messageId`, `correlationId`, `timestamp`, ...). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as amqplib types them: a key function reads them without a cast
  properties: Record<string, any>;
  /** AMQP headers. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as amqplib types them
  headers: Record<string, any>;
  /** The routing key the message was published with. */
  routingKey: string;
}

/**
 * Idempotent consumer: each message key is processed at most once while it is remembered.
 * The handler's message is claimed before the handler runs, marked done after it
 * succeeds, and released when it fails so a retry can run.
 */
export interface DedupOptions {
  /**
   * Derives the deduplication key of a message. Returning `undefined` means the message
   * has no key and cannot be deduplicated (it is processed without a claim).
   * Keys only need to be unique per handler: the consumer scopes them to the handler.
   * @default (message) => message.properties.messageId (the AMQP `messageId` property;
   *   publishers must set it, e.g. to a UUID or a business id such as the order id)
   */
  key?: (message: DedupMessage) => string | undefined;
  /**
   * How long (ms) a completed key is remembered; a duplicate arriving later is processed again.
   * @default 86400000 (24 hours)
   */
  ttl?: number;
  /**
   * How long (ms) a claim lasts while its handler runs. If the consumer dies, another one
   * may claim the key once the lease ends; make it longer than the slowest handler run.
   * @default 30000
   */
  lease?: number;
  /**
   * Where keys are kept. Use a shared store (e.g. `RedisDedupStore` from
   * `@warren/rabbitmq/redis`) when several processes consume the same queue.
   * @default an in-memory store (`MemoryDedupStore`), local to the process
   */
  store?: DedupStore;
}
