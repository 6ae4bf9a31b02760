/** Where messages that fail for good are kept. */
export interface DeadLetterOptions {
  /** The dead-letter queue. @default '<queue>.dlq' */
  queue?: string;
  /** The direct exchange dead letters are published through. @default 'warren.dlx' */
  exchange?: string;
  /** `x-message-ttl` of the dead-letter queue: drop dead letters older than this (ms). @default none (kept) */
  ttl?: number;
  /** `x-max-length` of the dead-letter queue. @default none */
  maxLength?: number;
}
