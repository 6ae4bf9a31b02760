import { Logger } from '@nestjs/common';
import type { ConsumeMessage } from 'amqplib';
import type { DedupDecision, DedupGuard, DedupTicket, StillWanted } from '../consumer/dedup-guard';
import { DUPLICATE, GIVE_BACK as GIVE_BACK_SETTLEMENT } from '../consumer/failure-strategy';
import type { HandlerStats } from '../consumer/handler-stats';
import { DedupKeyError } from '../errors/dedup-key.error';
import { routingKeyOf } from '../message/message-headers';
import type { DedupClaim, DedupStore } from '../options/dedup-store.interface';
import type { ResolvedDedupOptions } from '../dedup/resolve-dedup-options';
import { errorText } from '../errors/error-text';

const RUN_UNGUARDED: DedupDecision = { run: true, ticket: undefined };
const GIVE_BACK: DedupDecision = { run: false, settlement: GIVE_BACK_SETTLEMENT };
const SKIP_DUPLICATE: DedupDecision = { run: false, settlement: DUPLICATE };
/** The first wait before asking an unreachable store again; it doubles up to STORE_RETRY_MAX_MS. */
const STORE_RETRY_FIRST_MS = 250;
const STORE_RETRY_MAX_MS = 5000;
/** How often a message whose key another claim holds asks again, at most. */
const IN_PROGRESS_POLL_MS = 250;
/** How often a held delivery checks whether it is still wanted (consumer stopping, channel closed). */
const STILL_WANTED_CHECK_MS = 100;

/**
 * Claims a message's key before its handler runs (with a lease), marks it done
 * on success and releases it on failure so a retry can run. A key that was done
 * before is acked without running the handler. Keys are scoped by handler, so
 * two handlers of one message each run once.
 *
 * A message is never processed unguarded. While the store cannot be reached, or
 * another claim holds the key, the delivery is held here (unacked) and the claim
 * asked again — not requeued: on a quorum queue every requeue counts against the
 * delivery limit, so an outage would dead-letter or drop messages no handler ever
 * ran. A held delivery is given back as soon as its consumer stops or its channel
 * closes, or once another claim has held its key for longer than a lease; on a
 * quorum queue it goes back as a fresh copy, which does not count either.
 */
export class StoreDedupGuard implements DedupGuard {
  private readonly logger = new Logger('Dedup');
  /** When the current store outage was first seen, or undefined while the store answers. */
  private unavailableSince: number | undefined;
  /** When the store last came back: failures of calls started before that belong to the outage that ended. */
  private backSince = 0;

  constructor(
    private readonly scope: string,
    private readonly options: ResolvedDedupOptions & { store: DedupStore },
    private readonly stats: HandlerStats,
  ) {}

  async begin(message: ConsumeMessage, payload: unknown, stillWanted: StillWanted): Promise<DedupDecision> {
    const key = this.keyOf(message, payload);
    if (key === undefined || key === '') return RUN_UNGUARDED;
    const scoped = `${this.scope}:${key}`;
    let storeRetryMs = STORE_RETRY_FIRST_MS;
    let heldByOtherUntil: number | undefined;
    for (;;) {
      const claim = await this.claim(scoped);
      if (claim === undefined) {
        // The store is unreachable: wait for it, with a capped backoff.
        if (!(await hold(storeRetryMs, stillWanted))) return GIVE_BACK;
        storeRetryMs = Math.min(storeRetryMs * 2, STORE_RETRY_MAX_MS);
        continue;
      }
      switch (claim.status) {
        case 'claimed':
          return { run: true, ticket: { key: scoped, token: claim.token } };
        case 'duplicate':
          this.stats.duplicates++;
          this.logger.debug(`${this.scope}: duplicate ${key} acked without running the handler`);
          return SKIP_DUPLICATE;
        default:
          // Another claim holds the key: wait until it completes, is released or its lease runs
          // out (a crashed consumer's claims end with their lease).
          heldByOtherUntil ??= Date.now() + this.options.lease + IN_PROGRESS_POLL_MS;
          // Held for longer than a lease: a live consumer is slower than the lease. Come back later.
          if (Date.now() >= heldByOtherUntil) return GIVE_BACK;
          if (!(await hold(Math.max(10, Math.min(IN_PROGRESS_POLL_MS, this.options.lease / 4)), stillWanted))) return GIVE_BACK;
      }
    }
  }

  /** The message's key; a key function that throws fails the message for good (it would throw on every delivery). */
  keyOf(message: ConsumeMessage, payload: unknown): string | undefined {
    const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
    try {
      return this.options.key({
        payload,
        properties: message.properties,
        headers,
        routingKey: routingKeyOf(message),
      });
    } catch (error) {
      throw new DedupKeyError(this.scope, error);
    }
  }

  /** The store's answer, or undefined when it could not be reached. */
  private async claim(scoped: string): Promise<DedupClaim | undefined> {
    const startedAt = Date.now();
    let claim: DedupClaim;
    try {
      claim = await this.options.store.claim(scoped, this.options.lease);
    } catch (error) {
      if (this.unavailableSince === undefined && startedAt >= this.backSince) {
        this.unavailableSince = startedAt;
        this.logger.warn(
          `${this.scope}: the dedup store is unavailable (${errorText(error)}); messages are held unacked and their claims retried until it is back`,
        );
      }
      return undefined;
    }
    if (this.unavailableSince !== undefined) {
      this.backSince = Date.now();
      this.logger.log(`${this.scope}: the dedup store is back after ${this.backSince - this.unavailableSince} ms`);
      this.unavailableSince = undefined;
    }
    return claim;
  }

  succeeded(ticket: DedupTicket): Promise<void> {
    return this.options.store.complete(ticket.key, ticket.token, this.options.ttl);
  }

  failed(ticket: DedupTicket): Promise<void> {
    return this.options.store.release(ticket.key, ticket.token);
  }
}

/** Waits `ms`; resolves false as soon as the delivery is no longer wanted. */
async function hold(ms: number, stillWanted: StillWanted): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (!stillWanted()) return false;
    const left = until - Date.now();
    if (left <= 0) return true;
    await sleep(Math.min(left, STILL_WANTED_CHECK_MS));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
