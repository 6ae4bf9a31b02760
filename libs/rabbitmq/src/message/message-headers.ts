import type { ConsumeMessage, MessageProperties } from 'amqplib';
import { errorText } from '../errors/error-text';
import { WARREN_HEADERS } from '../rabbitmq.constants';

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

const STACK_LINES = 8;
const MAX_TEXT = 2000;

/** Keeps the error's first stack lines, and never more than a few KB in a header. */
export function trimStack(stack: string | undefined): string | undefined {
  if (!stack) return undefined;
  return stack.split('\n').slice(0, STACK_LINES + 1).join('\n').slice(0, MAX_TEXT);
}

/** The attempt number of this delivery: 1 for the first, carried across delayed retries. */
export function attemptOf(message: ConsumeMessage): number {
  const value = (message.properties.headers as Record<string, unknown> | undefined)?.[WARREN_HEADERS.attempt];
  const attempt = typeof value === 'number' ? value : Number(value);
  return Number.isInteger(attempt) && attempt > 0 ? attempt : 1;
}

/**
 * The headers a message keeps when it is parked (wait queue or dead-letter
 * queue): its own, plus where it originally went and when it first failed.
 */
export function parkingHeaders(message: ConsumeMessage, queue: string, now: string): Record<string, unknown> {
  const headers: Record<string, unknown> = { ...(message.properties.headers as Record<string, unknown> | undefined) };
  delete headers['x-death'];
  headers[WARREN_HEADERS.originalExchange] ??= message.fields.exchange;
  headers[WARREN_HEADERS.originalRoutingKey] ??= message.fields.routingKey;
  headers[WARREN_HEADERS.originalQueue] ??= queue;
  headers[FIRST_FAILURE_HEADER] ??= now;
  return headers;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** Builds the dead-letter headers for a failed delivery. */
export function deadLetterHeaders(
  message: ConsumeMessage,
  queue: string,
  handler: string | undefined,
  error: unknown,
  attempts: number,
  now = new Date().toISOString(),
): Record<string, unknown> {
  const headers = parkingHeaders(message, queue, now);
  // Whatever was thrown (an Error whose message is not a string, a plain object, a Symbol),
  // the headers hold strings only: a header amqplib cannot encode would keep the message cycling.
  const e = error instanceof Error ? (error as Error & { code?: unknown }) : undefined;
  // Thrown non-Errors (e.g. the plain objects of Nest's RPC exception filters) keep their name, message and code if they have them.
  const plain = !e && error !== null && typeof error === 'object' ? (error as { name?: unknown; message?: unknown; code?: unknown }) : undefined;
  const name = e ? e.name : plain?.name;
  headers[DEAD_LETTER_HEADERS.errorName] = typeof name === 'string' ? name.slice(0, MAX_TEXT) : 'Error';
  let text = e ? textOf(e.message) : typeof plain?.message === 'string' ? plain.message : plain ? safeJson(plain) : errorText(error);
  // HttpExceptions from pipes (ValidationPipe) carry the reasons in their response: keep them.
  const details = responseDetails(e);
  if (details !== undefined && details !== text) text = `${text}: ${Array.isArray(details) ? details.map(textOf).join('; ') : safeJson(details)}`;
  headers[DEAD_LETTER_HEADERS.errorMessage] = text.slice(0, MAX_TEXT);
  const code = e?.code ?? plain?.code;
  if (code !== undefined && code !== null) headers[DEAD_LETTER_HEADERS.errorCode] = textOf(code).slice(0, MAX_TEXT);
  const stack = trimStack(typeof e?.stack === 'string' ? e.stack : undefined);
  if (stack) headers[DEAD_LETTER_HEADERS.errorStack] = stack;
  if (handler) headers[DEAD_LETTER_HEADERS.handler] = handler;
  headers[DEAD_LETTER_HEADERS.attempts] = attempts;
  headers[DEAD_LETTER_HEADERS.firstFailureAt] = headers[FIRST_FAILURE_HEADER];
  headers[DEAD_LETTER_HEADERS.lastFailureAt] = now;
  return headers;
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

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : errorText(value);
}

/** The `message` of an HttpException's response (ValidationPipe's reasons), if reading it works. */
function responseDetails(error: Error | undefined): unknown {
  try {
    const getResponse = (error as { getResponse?: unknown } | undefined)?.getResponse;
    if (typeof getResponse !== 'function') return undefined;
    return ((getResponse as () => unknown).call(error) as { message?: unknown } | undefined)?.message;
  } catch {
    return undefined;
  }
}
