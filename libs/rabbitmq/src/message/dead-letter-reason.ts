import type { MessageProperties } from 'amqplib';
import { DEAD_LETTER_HEADERS, WARREN_HEADERS } from './warren-headers';

/** Why a message is in a dead-letter queue, read back from its headers. */
export interface DeadLetterReason {
  errorName: string;
  errorMessage: string;
  errorCode?: string;
  /** The first lines of the stack. */
  errorStack?: string;
  /** The handler that failed (`Class.method`). */
  handler?: string;
  /** Deliveries made, including the last one. */
  attempts: number;
  /** ISO timestamps. */
  firstFailureAt?: string;
  lastFailureAt?: string;
  exchange?: string;
  routingKey?: string;
  queue?: string;
}

/**
 * Reads the reason back. Messages the broker dead-lettered itself (a quorum
 * queue's delivery limit, a TTL, `new Nack()`) carry only `x-death`; their
 * reason is taken from it.
 */
export function readReason(properties: MessageProperties): DeadLetterReason {
  const h = (properties.headers ?? {}) as Record<string, unknown>;
  const str = (key: string): string | undefined => (h[key] === undefined || h[key] === null ? undefined : String(h[key]));
  if (h[DEAD_LETTER_HEADERS.errorName] !== undefined) {
    return {
      errorName: str(DEAD_LETTER_HEADERS.errorName) ?? 'Error',
      errorMessage: str(DEAD_LETTER_HEADERS.errorMessage) ?? '',
      errorCode: str(DEAD_LETTER_HEADERS.errorCode),
      errorStack: str(DEAD_LETTER_HEADERS.errorStack),
      handler: str(DEAD_LETTER_HEADERS.handler),
      attempts: Number(h[DEAD_LETTER_HEADERS.attempts] ?? 1),
      firstFailureAt: str(DEAD_LETTER_HEADERS.firstFailureAt),
      lastFailureAt: str(DEAD_LETTER_HEADERS.lastFailureAt),
      exchange: str(WARREN_HEADERS.originalExchange),
      routingKey: str(WARREN_HEADERS.originalRoutingKey),
      queue: str(WARREN_HEADERS.originalQueue),
    };
  }
  const death = Array.isArray(h['x-death']) ? (h['x-death'][0] as Record<string, unknown>) : undefined;
  const reason = death ? String(death.reason) : 'unknown';
  const time = death?.time as { value?: number } | undefined;
  const at = time?.value !== undefined ? new Date(time.value * 1000).toISOString() : undefined;
  const routingKeys = death?.['routing-keys'] as string[] | undefined;
  return {
    errorName: 'BrokerDeadLetter',
    errorMessage:
      reason === 'delivery_limit'
        ? 'the delivery limit of the quorum queue was reached (the handler crashed or requeued the message every time)'
        : `dead-lettered by the broker (${reason})`,
    attempts: Number(death?.count ?? 1),
    firstFailureAt: at,
    lastFailureAt: at,
    exchange: death?.exchange === undefined ? str(WARREN_HEADERS.originalExchange) : String(death.exchange),
    routingKey: routingKeys?.[0] ?? str(WARREN_HEADERS.originalRoutingKey),
    queue: death?.queue === undefined ? str(WARREN_HEADERS.originalQueue) : String(death.queue),
  };
}
