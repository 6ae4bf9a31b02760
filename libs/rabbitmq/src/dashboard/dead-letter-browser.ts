import { createHash } from 'node:crypto';
import type { ConsumeMessage } from 'amqplib';
import type { AmqpConnection } from '../facade/amqp-connection';
import { readReason, type DeadLetterReason } from '../message/dead-letter-reason';
import { previewPayload, type PayloadPreview } from './payload-preview';

/** Server-side filter of a dead-letter queue: case-insensitive substrings. */
export interface DeadLetterFilter {
  /** Matches the error's name, code or message. */
  error?: string;
  /** Matches the handler's name. */
  handler?: string;
}

export interface DeadLetterSummary {
  /** The message id, or `sha256:<hash of the body>` for a message without one. */
  id: string;
  messageId?: string;
  reason: DeadLetterReason;
  preview: PayloadPreview;
  contentType?: string;
}

export interface DeadLetterPage {
  queue: string;
  /** Messages in the queue when it was read. */
  total: number;
  /** Messages looked at (fewer than `total` past the scan limit). */
  scanned: number;
  /** Of those, the ones the filter takes. */
  matched: number;
  page: number;
  pageSize: number;
  pages: number;
  filter: DeadLetterFilter;
  items: DeadLetterSummary[];
  /** Handlers and error names seen while scanning (for the filter's suggestions), at most 50 each. */
  handlers: string[];
  errors: string[];
}

/** The id the dashboard gives a dead letter: its message id, or a hash of its body when it has none. */
export function deadLetterId(messageId: unknown, content: Buffer): string {
  return typeof messageId === 'string' && messageId !== '' ? messageId : `sha256:${createHash('sha256').update(content).digest('hex').slice(0, 32)}`;
}

export function matchesFilter(reason: DeadLetterReason, filter: DeadLetterFilter): boolean {
  const has = (haystack: string, needle: string | undefined): boolean => !needle || haystack.toLowerCase().includes(needle.toLowerCase());
  return has([reason.errorName, reason.errorCode ?? '', reason.errorMessage].join(' '), filter.error) && has(reason.handler ?? '', filter.handler);
}

/** Stop waiting for the rest of a queue when nothing arrived for this long (another consumer took them). */
const IDLE_MS = 1000;

/**
 * Reads a dead-letter queue without removing anything: consumes every message unacked on a temporary
 * channel (no prefetch limit, so the broker streams them instead of one basic.get round trip each), then
 * closes the channel, which gives them all back in their order. Only the page asked for is kept.
 */
export async function browseDeadLetters(
  connection: AmqpConnection,
  queue: string,
  request: { filter: DeadLetterFilter; page: number; pageSize: number; scanLimit: number; maskPaths: readonly string[]; previewBytes: number },
): Promise<DeadLetterPage> {
  const { filter, pageSize, scanLimit } = request;
  const first = (request.page - 1) * pageSize;
  const items: DeadLetterSummary[] = [];
  const handlers = new Set<string>();
  const errors = new Set<string>();
  let matched = 0;
  let scanned = 0;
  let total = 0;
  const visit = (message: ConsumeMessage): void => {
    const reason = readReason(message.properties);
    if (reason.handler && handlers.size < 50) handlers.add(reason.handler);
    if (errors.size < 50) errors.add(reason.errorName);
    if (!matchesFilter(reason, filter)) return;
    if (matched >= first && matched < first + pageSize) {
      const messageId = message.properties.messageId as string | undefined;
      items.push({
        id: deadLetterId(messageId, message.content),
        messageId,
        reason,
        preview: previewPayload(message.content, request.maskPaths, request.previewBytes),
        contentType: message.properties.contentType as string | undefined,
      });
    }
    matched++;
  };
  await connection.withChannel(async (channel) => {
    total = (await channel.checkQueue(queue)).messageCount;
    const target = Math.min(total, scanLimit);
    if (target === 0) return;
    await new Promise<void>((resolve, reject) => {
      let idle: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(idle);
        resolve();
      };
      const arm = (): void => {
        clearTimeout(idle);
        idle = setTimeout(done, IDLE_MS);
      };
      arm();
      channel
        .consume(
          queue,
          (message) => {
            if (message === null) return done();
            if (scanned >= target) return;
            scanned++;
            visit(message);
            if (scanned >= target) done();
            else arm();
          },
          { noAck: false },
        )
        .catch((error: unknown) => {
          clearTimeout(idle);
          reject(error instanceof Error ? error : new Error(String(error)));
        });
    });
  });
  return {
    queue,
    total,
    scanned,
    matched,
    page: request.page,
    pageSize,
    pages: Math.max(1, Math.ceil(matched / pageSize)),
    filter,
    items,
    handlers: [...handlers].sort(),
    errors: [...errors].sort(),
  };
}
