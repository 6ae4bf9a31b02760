import type { ConsumeMessage } from 'amqplib';
import { describeError, errorText } from '../errors/error-text';
import { DEAD_LETTER_HEADERS, FIRST_FAILURE_HEADER, LAST_ERROR_HEADER, RETRY_DUE_HEADER, WARREN_HEADERS } from './warren-headers';

/*
 * Reading and writing Warren's headers on a delivery: the attempt count, the original route,
 * and the headers a message carries when it is parked for a retry, dead-lettered or replayed.
 */

const STACK_LINES = 8;
const MAX_TEXT = 2000;

/** Keeps the error's first stack lines, and never more than a few KB in a header. */
export function trimStack(stack: string | undefined): string | undefined {
  if (!stack) return undefined;
  return stack
    .split('\n')
    .slice(0, STACK_LINES + 1)
    .join('\n')
    .slice(0, MAX_TEXT);
}

/** The attempt number of this delivery: 1 for the first, carried across delayed retries. */
export function attemptOf(message: ConsumeMessage): number {
  const value = headersOf(message)[WARREN_HEADERS.attempt];
  const attempt = typeof value === 'number' ? value : Number(value);
  return Number.isInteger(attempt) && attempt > 0 ? attempt : 1;
}

/**
 * How many times this message was delivered before this delivery: 0 for a first delivery.
 *
 * Where the broker counts (a quorum queue: `x-delivery-count`, which RabbitMQ 3.10 and 4.x set on every
 * redelivery, 1 on the first), its count. Elsewhere (classic queues) only the `redelivered` flag exists,
 * so a redelivery counts as at least 1. A publisher can set `x-delivery-count` itself and both versions pass
 * it through on a first delivery (and on every delivery from a classic queue), so the header is read only
 * when the broker flags the delivery as redelivered and the queue is one that counts.
 */
export function redeliveriesOf(message: ConsumeMessage, brokerCounts: boolean): number {
  if (!message.fields.redelivered) return 0;
  if (!brokerCounts) return 1;
  const count = headersOf(message)['x-delivery-count'];
  return typeof count === 'number' && Number.isInteger(count) && count > 0 ? count : 1;
}

/**
 * The redelivery count of a delivery a handler received (the second handler argument): 0 for a
 * first delivery; the broker's `x-delivery-count` on a quorum queue (RabbitMQ 3.10+ and 4.x count
 * every return: a requeue, a crashed or closed consumer); on a classic queue, which only flags
 * redeliveries, 1 for any redelivery. Pass the queue's type: a publisher-set `x-delivery-count`
 * reaches a classic queue's consumer unchanged and must not be read as the broker's.
 */
export function redeliveryCount(message: ConsumeMessage, queueType: 'classic' | 'quorum' = 'classic'): number {
  return redeliveriesOf(message, queueType === 'quorum');
}

/** The routing key the message was first published with (kept across retries and dead-lettering), or its own. */
export function routingKeyOf(message: ConsumeMessage): string {
  // Headers are the publisher's to set: read them only when they have the expected type.
  const original = headersOf(message)[WARREN_HEADERS.originalRoutingKey];
  return typeof original === 'string' ? original : message.fields.routingKey;
}

/** The exchange the message was first published to (kept across retries and dead-lettering), or its own. */
export function exchangeOf(message: ConsumeMessage): string {
  const original = headersOf(message)[WARREN_HEADERS.originalExchange];
  return typeof original === 'string' ? original : message.fields.exchange;
}

/**
 * The headers a message keeps when it is parked (wait queue or dead-letter
 * queue): its own, plus where it originally went and when it first failed.
 */
export function parkingHeaders(message: ConsumeMessage, queue: string, now: string): Record<string, unknown> {
  const headers: Record<string, unknown> = { ...headersOf(message) };
  delete headers['x-death'];
  headers[WARREN_HEADERS.originalExchange] ??= message.fields.exchange;
  headers[WARREN_HEADERS.originalRoutingKey] ??= message.fields.routingKey;
  headers[WARREN_HEADERS.originalQueue] ??= queue;
  headers[FIRST_FAILURE_HEADER] ??= now;
  return headers;
}

/**
 * The headers of a failed delivery sent to wait for its retry: parked, with the next attempt number, the error
 * and, given the wait, when it is due back.
 */
export function retryHeaders(
  message: ConsumeMessage,
  queue: string,
  attempt: number,
  error: unknown,
  now = new Date().toISOString(),
  delayMs?: number,
): Record<string, unknown> {
  const headers = parkingHeaders(message, queue, now);
  headers[WARREN_HEADERS.attempt] = attempt + 1;
  headers[LAST_ERROR_HEADER] = describeError(error).slice(0, 500);
  if (delayMs !== undefined) headers[RETRY_DUE_HEADER] = new Date(Date.parse(now) + delayMs).toISOString();
  else delete headers[RETRY_DUE_HEADER];
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

/** Headers a replayed dead letter loses: it starts over at attempt 1, with no reason and no broker death records. */
const STRIPPED_ON_REPLAY = [
  ...Object.values(DEAD_LETTER_HEADERS),
  WARREN_HEADERS.attempt,
  LAST_ERROR_HEADER,
  FIRST_FAILURE_HEADER,
  RETRY_DUE_HEADER,
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
];

/** The headers a dead letter is replayed with: its own (a copy), without the dead-letter and retry bookkeeping. */
export function replayHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const replayed = { ...headers };
  for (const name of STRIPPED_ON_REPLAY) delete replayed[name];
  return replayed;
}

/** The headers as `unknown` values (amqplib types them `any`). */
function headersOf(message: ConsumeMessage): Record<string, unknown> {
  const headers: Record<string, unknown> | undefined = message.properties.headers;
  return headers ?? {};
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
