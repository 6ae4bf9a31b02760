import { Logger } from '@nestjs/common';
import type { ConsumeMessage } from 'amqplib';
import type { DedupDecision, DedupGuard, DedupTicket } from '../consumer/dedup-guard';
import { DUPLICATE, REQUEUE } from '../consumer/failure-strategy';
import type { HandlerStats } from '../consumer/handler-stats';
import { WARREN_HEADERS } from '../rabbitmq.constants';
import type { DedupStore } from '../dedup/dedup-store.interface';
import type { ResolvedDedupOptions } from '../dedup/resolve-dedup-options';

const RUN_UNGUARDED: DedupDecision = { run: true, ticket: undefined };
/** How long a message waits before going back to its queue when the store is down. */
const BUSY_WAIT_MS = 1000;
/** How often a message whose key another claim holds asks again, at most. */
const IN_PROGRESS_POLL_MS = 250;

/**
 * Claims a message's key before its handler runs (with a lease), marks it done
 * on success and releases it on failure so a retry can run. A key that was done
 * before is acked without running the handler. Keys are scoped by handler, so
 * two handlers of one message each run once. When the store cannot be reached
 * the message waits and goes back to its queue — never processed unguarded.
 */
export class StoreDedupGuard implements DedupGuard {
  private readonly logger = new Logger('Dedup');
  private unavailableSince: number | undefined;

  constructor(
    private readonly scope: string,
    private readonly options: ResolvedDedupOptions & { store: DedupStore },
    private readonly stats: HandlerStats,
  ) {}

  async begin(message: ConsumeMessage, payload: unknown): Promise<DedupDecision> {
    const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
    const key = this.options.key({
      payload,
      properties: message.properties,
      headers,
      routingKey: (headers[WARREN_HEADERS.originalRoutingKey] as string | undefined) ?? message.fields.routingKey,
    });
    if (key === undefined || key === '') return RUN_UNGUARDED;
    const scoped = `${this.scope}:${key}`;
    // While another claim holds the key, wait here (the delivery stays unacked) until that
    // claim completes, is released or its lease runs out — a crashed consumer's claims end
    // with their lease. Requeueing instead would count as a delivery attempt on a quorum queue
    // (RabbitMQ 3.x), and a few rounds would dead-letter, through the queue's delivery limit,
    // a message no handler ever ran.
    const giveUpAt = Date.now() + this.options.lease + IN_PROGRESS_POLL_MS;
    for (;;) {
      const decision = await this.claim(scoped, key);
      if (decision !== 'in-progress') return decision;
      if (Date.now() >= giveUpAt) {
        // Held for longer than a lease: a live consumer is slower than the lease. Come back later.
        return { run: false, settlement: REQUEUE };
      }
      await sleep(Math.max(10, Math.min(IN_PROGRESS_POLL_MS, this.options.lease / 4)));
    }
  }

  private async claim(scoped: string, key: string): Promise<DedupDecision | 'in-progress'> {
    let claim;
    try {
      claim = await this.options.store.claim(scoped, this.options.lease);
    } catch (error) {
      if (this.unavailableSince === undefined) {
        this.unavailableSince = Date.now();
        this.logger.warn(`${this.scope}: the dedup store is unavailable (${(error as Error).message}); messages wait and are retried until it is back`);
      }
      await sleep(BUSY_WAIT_MS);
      return { run: false, settlement: REQUEUE };
    }
    if (this.unavailableSince !== undefined) {
      this.logger.log(`${this.scope}: the dedup store is back after ${Date.now() - this.unavailableSince} ms`);
      this.unavailableSince = undefined;
    }
    switch (claim.status) {
      case 'claimed':
        return { run: true, ticket: { key: scoped, token: claim.token } };
      case 'duplicate':
        this.stats.duplicates++;
        this.logger.debug(`${this.scope}: duplicate ${key} acked without running the handler`);
        return { run: false, settlement: DUPLICATE };
      default:
        return 'in-progress';
    }
  }

  succeeded(ticket: DedupTicket): Promise<void> {
    return this.options.store.complete(ticket.key, ticket.token, this.options.ttl);
  }

  failed(ticket: DedupTicket): Promise<void> {
    return this.options.store.release(ticket.key, ticket.token);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
