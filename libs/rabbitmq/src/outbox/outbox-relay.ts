import { Logger } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { errorText } from '../errors/error-text';
import type { AmqpConnection, PublishOptions } from '../facade/amqp-connection';
import type { Serializer } from '../message/serializer';
import type { OutboxBacklogInfo, OutboxRelayedInfo } from '../options/telemetry.interface';
import { resolveOutboxOptions, type OutboxOptions, type ResolvedOutboxOptions } from './outbox-options';
import { OutboxSql } from './outbox-sql';
import { rowsOf, type OutboxPool, type OutboxPoolClient } from './outbox-transaction';

/** A row of the outbox table as the relay and `held()` read it. */
export interface OutboxRow {
  id: string;
  messageId: string;
  exchange: string;
  routingKey: string;
  payload: Buffer;
  contentType: string | null;
  properties: Record<string, unknown>;
  aggregateKey: string | null;
  status: 'pending' | 'sent' | 'parked' | 'failed';
  attempts: number;
  createdAt: Date;
  /** The typed error's code for parked (UNROUTABLE) and failed rows (EXCHANGE_NOT_FOUND, MESSAGE_TOO_LARGE, ...). */
  errorCode: string | null;
  errorMessage: string | null;
}

/** The backlog of the outbox table. */
export type OutboxBacklog = Omit<OutboxBacklogInfo, 'table'>;

/** What the relay decided for one row. */
interface Outcome {
  row: OutboxRow;
  status: 'sent' | 'parked' | 'failed' | 'pending';
  code: string | null;
  message: string | null;
  delayMs: number;
}

/** Codes of publish errors that no re-send can cure: the row is marked failed with the error. */
const REFUSED = new Set(['EXCHANGE_NOT_FOUND', 'PUBLISH_FAILED', 'MESSAGE_TOO_LARGE', 'MESSAGE_ENCODING']);

/**
 * Publishes committed outbox rows with confirms and marks them sent.
 *
 * Claiming: each batch is one database transaction that locks its rows with
 * `SELECT … FOR UPDATE SKIP LOCKED`, publishes them, records the outcome and commits. Row
 * locks rather than leases: the database releases them by itself when a relay dies (its
 * connection closes), so there is no lease length to tune against publish time and no
 * clock to trust; another relay skips locked rows instead of waiting. Ordering: a keyed row
 * is claimed only while no older row of its key is pending, so a key's rows are held by one
 * relay at a time and published in id order, one after the other.
 *
 * Failures: unroutable rows are parked (status `parked`, the reason on the row) and never
 * retried on their own; rows the broker or encoder refuses are marked `failed` with the error's
 * code; transient failures (timeout, nack, connection lost) leave the row pending with a
 * doubling delay, and the later rows of its key wait for it. While the broker is unreachable
 * nothing is claimed; while the database fails the relay backs off and resumes.
 */
export class OutboxRelay {
  readonly options: ResolvedOutboxOptions;
  private readonly logger: Logger;
  private readonly sql: OutboxSql;
  private running: Promise<void> | undefined;
  private housekeeping$: Promise<void> | undefined;
  private listening: Promise<void> | undefined;
  private stopped = true;
  private wakeUp: (() => void) | undefined;
  /** Everything waiting that stop() must end: sleeps, backoffs, the LISTEN connection's wait. */
  private readonly sleepers = new Set<() => void>();
  private woken = false;
  private statusSubscription: Subscription | undefined;
  private lastBacklog = 0;
  private lastCleanup = 0;
  private databaseDown = false;
  private lastBacklogValue: OutboxBacklog | undefined;
  private readonly onPoolError = (error: Error): void => this.logger.debug(`idle database connection failed: ${error.message}`);

  constructor(
    private readonly pool: OutboxPool,
    private readonly connection: AmqpConnection,
    options: OutboxOptions = {},
  ) {
    this.options = resolveOutboxOptions(options);
    this.sql = new OutboxSql(this.options.table);
    this.logger = new Logger(`Outbox:${this.options.table}`);
  }

  /** The last backlog read (every `backlogInterval`), or undefined before the first. */
  get lastBacklogRead(): OutboxBacklog | undefined {
    return this.lastBacklogValue;
  }

  /** True between start() and stop(). */
  get isRunning(): boolean {
    return !this.stopped;
  }

  /** True while the last database operation failed. */
  get isDatabaseDown(): boolean {
    return this.databaseDown;
  }

  /** Starts relaying in the background (idempotent). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    // node-postgres emits an idle client's failure on the pool, and an unheard 'error' event ends the process.
    (this.pool as unknown as { on?: (event: string, listener: (error: Error) => void) => void }).on?.('error', this.onPoolError);
    this.statusSubscription = this.connection.status$.subscribe(() => this.wake());
    if (this.options.listen) this.listening = this.listenLoop();
    this.running = this.relayLoop();
    this.housekeeping$ = this.housekeepingLoop();
    this.logger.log(
      `relaying on connection '${this.connection.name}' (${this.options.listen ? 'LISTEN/NOTIFY, and polling' : 'polling'} every ${this.options.pollInterval} ms)`,
    );
  }

  /** Stops after the batch in flight (its publishes settle and its outcome is recorded). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.statusSubscription?.unsubscribe();
    for (const end of [...this.sleepers]) end();
    await Promise.all([this.running, this.listening, this.housekeeping$]);
    (this.pool as unknown as { off?: (event: string, listener: (error: Error) => void) => void }).off?.('error', this.onPoolError);
  }

  /** Looks at the table now instead of at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Reads the backlog now: pending, parked and failed rows, and the age of the oldest pending one. */
  async backlog(): Promise<OutboxBacklog> {
    const row = rowsOf<{ pending: number; parked: number; failed: number; oldest_ms: number }>(await this.pool.query(this.sql.backlog))[0];
    const backlog = { pending: row.pending, parked: row.parked, failed: row.failed, oldestPendingAgeMs: Math.max(0, Math.round(row.oldest_ms)) };
    this.lastBacklogValue = backlog;
    this.connection.telemetryHub?.outboxBacklog({ table: this.options.table, ...backlog });
    return backlog;
  }

  /** Parked (unroutable) and failed (refused) rows, oldest first: what an operator inspects before replaying. */
  async held(options: { status?: Array<'parked' | 'failed'>; limit?: number } = {}): Promise<OutboxRow[]> {
    const result = await this.pool.query(this.sql.held, [options.status ?? ['parked', 'failed'], options.limit ?? 100]);
    return rowsOf<RawRow>(result).map(toRow);
  }

  /**
   * Puts parked or failed rows back to pending (all of them, or those in `ids`), with the same
   * message id, once the cause is fixed (a queue bound, an exchange declared). Returns how many.
   */
  async replay(options: { ids?: string[]; status?: Array<'parked' | 'failed'> } = {}): Promise<number> {
    const result = await this.pool.query(this.sql.replay, [options.status ?? ['parked', 'failed'], options.ids ?? null, this.sql.channel]);
    return rowsOf<{ replayed: number }>(result)[0]?.replayed ?? 0;
  }

  /**
   * Claims, publishes and records one batch; resolves with how many rows it claimed. Throws
   * when the database fails (nothing is recorded then; the rows are claimed again later).
   */
  async relayOnce(): Promise<number> {
    const client = await this.pool.connect();
    // A connection lost while the batch publishes is emitted as 'error' on the checked-out client; unheard, it would end the process.
    // The next query fails with it anyway, and the batch is rolled back.
    const events = client as unknown as Partial<Pick<NodeJS.EventEmitter, 'on' | 'off'>>;
    events.on?.('error', ignore);
    let broken: unknown;
    try {
      await client.query('BEGIN');
      const rows = rowsOf<RawRow>(await client.query(this.sql.claimHeads, [this.options.batchSize])).map(toRow);
      const keys = [...new Set(rows.map((row) => row.aggregateKey).filter((key): key is string => key !== null))];
      if (keys.length > 0 && rows.length < this.options.batchSize) {
        const followers = await client.query(this.sql.claimFollowers, [keys, rows.map((row) => row.id), this.options.batchSize - rows.length]);
        rows.push(...rowsOf<RawRow>(followers).map(toRow));
      }
      if (rows.length === 0) {
        await client.query('COMMIT');
        return 0;
      }
      const outcomes = await this.publishAll(rows);
      const marked = await client.query(this.sql.mark, [
        outcomes.map((o) => o.row.id),
        outcomes.map((o) => o.status),
        outcomes.map((o) => o.code),
        outcomes.map((o) => o.message),
        outcomes.map((o) => o.delayMs),
      ]);
      await client.query('COMMIT');
      this.report(outcomes, rowsOf<{ id: string; latency_ms: number | null }>(marked));
      return rows.length;
    } catch (error) {
      broken = error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      events.off?.('error', ignore);
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  private async relayLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      this.woken = false;
      let claimed = 0;
      try {
        if (this.connection.status === 'connected') claimed = await this.relayOnce();
        if (this.databaseDown) this.logger.log('database reachable again; relaying resumes');
        this.databaseDown = false;
        failures = 0;
      } catch (error) {
        failures++;
        if (!this.databaseDown) this.logger.warn(`database operation failed (${errorText(error)}); retrying with backoff`);
        this.databaseDown = true;
        await this.pause(Math.min(this.options.outageBackoff.max, this.options.outageBackoff.min * 2 ** Math.min(failures - 1, 20)));
        continue;
      }
      if (claimed === 0 && !this.woken) await this.sleep(this.options.pollInterval);
    }
  }

  /** Reads the backlog and deletes old sent rows when they are due, whether or not rows are relayed (the broker may be away). */
  private async housekeepingLoop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.housekeeping();
      } catch (error) {
        // The relay loop reports the outage; here it only delays the next reading.
        this.logger.debug(`backlog or retention failed: ${errorText(error)}`);
      }
      await this.pause(Math.min(this.options.backlogInterval, this.options.cleanupInterval));
    }
  }

  private async housekeeping(): Promise<void> {
    const now = Date.now();
    if (now - this.lastBacklog >= this.options.backlogInterval) {
      this.lastBacklog = now;
      await this.backlog();
    }
    if (now - this.lastCleanup >= this.options.cleanupInterval) {
      this.lastCleanup = now;
      let deleted: number;
      do {
        const result = (await this.pool.query(this.sql.cleanup, [this.options.retention, 1000])) as { rowCount?: number } | unknown[];
        deleted = Array.isArray(result) ? result.length : (result.rowCount ?? 0);
      } while (deleted === 1000 && !this.stopped);
    }
  }

  /** Rows of one key one after the other (a transient failure stops the key), everything else at once. */
  private async publishAll(rows: OutboxRow[]): Promise<Outcome[]> {
    rows.sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)));
    const groups = new Map<string, OutboxRow[]>();
    const outcomes: Outcome[] = [];
    const loose: Array<Promise<void>> = [];
    for (const row of rows) {
      if (row.aggregateKey === null) loose.push(this.publishRow(row).then((outcome) => void outcomes.push(outcome)));
      else groups.set(row.aggregateKey, [...(groups.get(row.aggregateKey) ?? []), row]);
    }
    const keyed = [...groups.values()].map(async (group) => {
      for (const row of group) {
        const outcome = await this.publishRow(row);
        outcomes.push(outcome);
        // The rest of the key stays pending and locked until commit; it is claimed again after this row.
        if (outcome.status === 'pending') return;
      }
    });
    await Promise.all([...loose, ...keyed]);
    return outcomes;
  }

  private async publishRow(row: OutboxRow): Promise<Outcome> {
    const serializer: Serializer = {
      contentType: row.contentType ?? 'application/octet-stream',
      serialize: () => row.payload,
      deserialize: (body) => body,
    };
    const options: PublishOptions = {
      ...(row.properties as PublishOptions),
      messageId: row.messageId,
      serializer,
      timeout: this.options.publishTimeout,
    };
    try {
      await this.connection.publish(row.exchange, row.routingKey, row.payload, options);
      return { row, status: 'sent', code: null, message: null, delayMs: 0 };
    } catch (error) {
      const code = codeOf(error);
      const message = errorText(error);
      if (code === 'UNROUTABLE') return { row, status: 'parked', code, message, delayMs: 0 };
      const sent = (error as { sent?: unknown }).sent;
      if (REFUSED.has(code) && sent !== false) return { row, status: 'failed', code, message, delayMs: 0 };
      const delayMs = Math.min(this.options.retryDelay.max, this.options.retryDelay.min * 2 ** Math.min(row.attempts, 20));
      return { row, status: 'pending', code, message, delayMs };
    }
  }

  private report(outcomes: Outcome[], marked: Array<{ id: string; latency_ms: number | null }>): void {
    const latency = new Map(marked.map((row) => [row.id, row.latency_ms]));
    const telemetry = this.connection.telemetryHub;
    for (const { row, status, code } of outcomes) {
      if (status === 'parked') this.logger.warn(`row ${row.id} (message ${row.messageId}) parked: ${code}; bind a queue, then replay it`);
      else if (status === 'failed') this.logger.warn(`row ${row.id} (message ${row.messageId}) failed for good: ${code}; fix it, then replay it`);
      if (!telemetry) continue;
      const info: OutboxRelayedInfo = {
        table: this.options.table,
        exchange: row.exchange,
        routingKey: row.routingKey,
        messageId: row.messageId,
        outcome: status === 'pending' ? 'retry' : status,
        latencyMs: status === 'sent' ? (latency.get(row.id) ?? undefined) : undefined,
        errorCode: code ?? undefined,
      };
      telemetry.outboxRelayed(info);
    }
  }

  /** Holds one pooled connection on LISTEN and wakes the relay on every NOTIFY; reconnects with backoff. */
  private async listenLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let client: OutboxPoolClient | undefined;
      try {
        client = await this.pool.connect();
        if (this.stopped) break;
        const events = client as unknown as { on(event: string, listener: (...args: unknown[]) => void): void };
        let end: () => void = () => undefined;
        const lost = new Promise<void>((resolve) => (end = resolve));
        events.on('error', end);
        events.on('end', end);
        this.sleepers.add(end);
        events.on('notification', () => this.wake());
        await client.query(this.sql.listen);
        failures = 0;
        // A NOTIFY sent while nobody listened is lost: look at the table once now.
        this.wake();
        await lost;
        this.sleepers.delete(end);
      } catch {
        failures++;
      }
      client?.release(true);
      if (!this.stopped) await this.pause(Math.min(this.options.outageBackoff.max, this.options.outageBackoff.min * 2 ** Math.min(failures, 20)));
    }
  }

  /** Waits `ms`, or less when woken (a NOTIFY, a connection status change) or stopped. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.woken || this.stopped) return resolve();
      const finish = (): void => {
        clearTimeout(timer);
        if (this.wakeUp === finish) this.wakeUp = undefined;
        this.sleepers.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.wakeUp = finish;
      this.sleepers.add(finish);
    });
  }

  /** Waits `ms`, or less when stopped; a NOTIFY does not cut it short (backoff after a failure). */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const finish = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.sleepers.add(finish);
    });
  }
}

interface RawRow {
  id: string;
  message_id: string;
  exchange: string;
  routing_key: string;
  payload: Buffer;
  content_type: string | null;
  properties: Record<string, unknown> | string | null;
  aggregate_key: string | null;
  status: OutboxRow['status'];
  attempts: number;
  created_at: Date;
  error_code: string | null;
  error_message: string | null;
}

function toRow(raw: RawRow): OutboxRow {
  return {
    id: raw.id,
    messageId: raw.message_id,
    exchange: raw.exchange,
    routingKey: raw.routing_key,
    payload: raw.payload,
    contentType: raw.content_type,
    properties: typeof raw.properties === 'string' ? (JSON.parse(raw.properties) as Record<string, unknown>) : (raw.properties ?? {}),
    aggregateKey: raw.aggregate_key,
    status: raw.status,
    attempts: raw.attempts,
    createdAt: raw.created_at,
    errorCode: raw.error_code,
    errorMessage: raw.error_message,
  };
}

function ignore(): void {}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERROR';
}
