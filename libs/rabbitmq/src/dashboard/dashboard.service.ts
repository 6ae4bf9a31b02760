import { Inject, Injectable, NotFoundException, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Subscription } from 'rxjs';
import type { ConnectionStatus } from '../connection/connection-status';
import type { AmqpConnection } from '../facade/amqp-connection';
import { AmqpConnectionRegistry } from '../facade/amqp-connection.registry';
import { DeadLetterService, type ReplayResult } from '../facade/dead-letter.service';
import type { HandlerDescription } from '../facade/handler-description';
import { LAST_ERROR_HEADER, RETRY_DUE_HEADER, WARREN_HEADERS } from '../message/warren-headers';
import { maskUrl } from '../options/mask-url';
import { waitQueueName } from '../reliability/wait-queues';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { browseDeadLetters, deadLetterId, matchesFilter, type DeadLetterFilter, type DeadLetterPage } from './dead-letter-browser';
import type { ResolvedDashboardOptions } from './dashboard-options';
import type { HandlerTimings } from './dashboard.telemetry';
import { isOutboxSource, type DashboardOutboxSource } from './dashboard-outbox';
import { previewPayload, type PayloadPreview } from './payload-preview';

export const DASHBOARD_OPTIONS = Symbol('WARREN_DASHBOARD_OPTIONS');

export interface HandlerRow extends HandlerDescription {
  connection: string;
  timings?: HandlerTimings;
}

export type QueueRole = 'handler' | 'dead-letter' | 'retry-wait' | 'configured';

export interface WaitingMessage {
  messageId?: string;
  /** The queue it goes back to when its wait is over. */
  returnsTo?: string;
  attempt?: number;
  lastError?: string;
  /** When it goes back (ISO), for messages parked by this version of Warren. */
  dueAt?: string;
}

export interface QueueRow {
  queue: string;
  role: QueueRole;
  handlers: string[];
  /** Ready messages; null when the queue does not exist. */
  messages: number | null;
  consumers: number | null;
  /** Deliveries of this queue being handled in this process now (unacked here). */
  inFlight: number;
  /** Wait queues: how long a message waits there. */
  delayMs?: number;
  /** Wait queues: the first messages waiting. */
  waiting?: WaitingMessage[];
  missing?: true;
}

export interface ConnectionRow {
  name: string;
  status: ConnectionStatus;
  blockedReason?: string;
  /** When the status last changed (ISO); the dashboard's start when it has not changed since. */
  since?: string;
  /** Connects after the first one, since the dashboard started watching. */
  reconnects: number;
  channels: { open: number; total: number };
  brokers: string[];
  topologyErrors: string[];
}

export interface DeadLetterQueueRow {
  queue: string;
  handlers: string[];
  messages: number | null;
  missing?: true;
}

export interface DashboardReplayResult {
  replayed: number;
  /** Ids asked for that are not in the queue any more (replayed or purged meanwhile). */
  missing: string[];
  failed: ReplayResult['failed'];
}

/** A parked or failed outbox row as the Outbox page and `api/outbox` show it. */
export interface OutboxHeldRow {
  id: string;
  messageId: string;
  status: string;
  exchange: string;
  routingKey: string;
  attempts: number;
  /** ISO time the row was written. */
  createdAt: string;
  errorCode: string | null;
  errorMessage: string | null;
  preview: PayloadPreview;
}

export interface OutboxHeldPage {
  table: string;
  rows: OutboxHeldRow[];
  /** True when more rows are held than the page shows (`pageSize`). */
  more: boolean;
}

/** Waiting messages shown per retry wait queue. */
export const WAITING_SHOWN = 5;
const CLASSIC_WAIT_PREFIX = waitQueueName('classic', 0).replace(/0$/, '');

/** Gathers what the dashboard shows from the library's public services, and runs its actions one at a time per queue. */
@Injectable()
export class DashboardService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly watching = new Map<string, { reconnects: number; since?: string; connected: boolean; subscription: Subscription }>();
  private readonly queueLocks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly registry: AmqpConnectionRegistry,
    private readonly deadLetters: DeadLetterService,
    @Inject(DASHBOARD_OPTIONS) readonly options: ResolvedDashboardOptions,
    private readonly moduleRef: ModuleRef,
  ) {}

  private outboxSource: DashboardOutboxSource | undefined;

  onApplicationBootstrap(): void {
    for (const connection of this.registry.getAll()) this.watch(connection);
    const outbox = this.options.outbox;
    if (outbox === undefined) return;
    // A token (OutboxRelay, as WarrenOutboxModule provides it) is looked up in the whole app: the relay lives in the outbox's module.
    const source: unknown = isOutboxSource(outbox) ? outbox : this.moduleRef.get(outbox as string, { strict: false });
    if (!isOutboxSource(source)) {
      throw new InvalidOptionsError([`dashboard outbox: the provider ${String((outbox as { name?: string }).name ?? String(outbox))} is not an OutboxRelay`]);
    }
    this.outboxSource = source;
  }

  /** True when the dashboard has an outbox to show. */
  get hasOutbox(): boolean {
    return this.options.outbox !== undefined;
  }

  private get outbox(): DashboardOutboxSource {
    if (!this.outboxSource) throw new NotFoundException('This dashboard has no outbox: pass outbox: OutboxRelay to WarrenDashboardModule.forRoot()');
    return this.outboxSource;
  }

  /** Parked (unroutable) and failed rows of the outbox, oldest first, at most `pageSize`. */
  async outboxHeld(): Promise<OutboxHeldPage> {
    const { pageSize, maskPaths, previewBytes } = this.options;
    const rows = await this.outbox.held({ limit: pageSize + 1 });
    return {
      table: this.outbox.options.table,
      more: rows.length > pageSize,
      rows: rows.slice(0, pageSize).map((row) => ({
        id: row.id,
        messageId: row.messageId,
        status: row.status,
        exchange: row.exchange,
        routingKey: row.routingKey,
        attempts: row.attempts,
        createdAt: new Date(row.createdAt).toISOString(),
        errorCode: row.errorCode,
        errorMessage: row.errorMessage,
        preview: previewPayload(row.payload, maskPaths, previewBytes),
      })),
    };
  }

  /** Puts held rows back to pending (those in `ids`, or all of them), with their message ids: the relay publishes them again. */
  async outboxReplay(what: { ids: string[] } | { all: true }): Promise<DashboardReplayResult> {
    if (!('ids' in what)) return { replayed: await this.outbox.replay(), missing: [], failed: [] };
    // Ids not held any more (replayed from elsewhere meanwhile) are named as missing; the page shows at most 500 rows, all among these.
    const held = new Set((await this.outbox.held({ limit: 10_000 })).map((row) => row.id));
    const present = what.ids.filter((id) => held.has(id));
    const replayed = present.length === 0 ? 0 : await this.outbox.replay({ ids: present });
    return { replayed, missing: what.ids.filter((id) => !held.has(id)), failed: [] };
  }

  onModuleDestroy(): void {
    for (const entry of this.watching.values()) entry.subscription.unsubscribe();
    this.watching.clear();
  }

  private get connection(): AmqpConnection {
    return this.registry.get(this.options.connection);
  }

  private watch(connection: AmqpConnection): void {
    if (this.watching.has(connection.name)) return;
    const entry = { reconnects: 0, since: undefined as string | undefined, connected: false, subscription: undefined as unknown as Subscription };
    this.watching.set(connection.name, entry);
    let previous: ConnectionStatus | undefined;
    entry.subscription = connection.status$.subscribe((status) => {
      if (status !== previous) entry.since = new Date().toISOString();
      if (status === 'connected' && previous !== 'blocked' && previous !== 'connected') {
        if (entry.connected) entry.reconnects++;
        entry.connected = true;
      }
      previous = status;
    });
  }

  handlers(): HandlerRow[] {
    return this.registry.getAll().flatMap((connection) =>
      connection.describeHandlers().map((handler) => ({
        ...handler,
        connection: connection.name,
        timings: this.options.telemetry?.timings(handler.name),
      })),
    );
  }

  /** The dead-letter queues shown: those of this connection's handlers, then the configured ones. */
  deadLetterQueueNames(): string[] {
    const names = this.connection.describeHandlers().flatMap((handler) => (handler.deadLetterQueue ? [handler.deadLetterQueue] : []));
    return [...new Set([...names, ...this.options.deadLetterQueues])];
  }

  isDeadLetterQueue(queue: string): boolean {
    return this.deadLetterQueueNames().includes(queue);
  }

  async deadLetterQueues(): Promise<DeadLetterQueueRow[]> {
    const handlers = this.connection.describeHandlers();
    return Promise.all(
      this.deadLetterQueueNames().map(async (queue) => {
        const depth = await this.depth(queue);
        return {
          queue,
          handlers: handlers.filter((h) => h.deadLetterQueue === queue).map((h) => h.name),
          messages: depth.messages,
          ...(depth.missing ? { missing: true as const } : {}),
        };
      }),
    );
  }

  async queues(): Promise<QueueRow[]> {
    const handlers = this.connection.describeHandlers();
    const rows = new Map<string, QueueRow>();
    const add = (queue: string, role: QueueRole, handler?: HandlerDescription, delayMs?: number): void => {
      if (queue === '') return;
      const row = rows.get(queue) ?? { queue, role, handlers: [], messages: null, consumers: null, inFlight: 0, delayMs };
      if (handler && !row.handlers.includes(handler.name)) row.handlers.push(handler.name);
      rows.set(queue, row);
    };
    for (const handler of handlers) {
      add(handler.queue, 'handler', handler);
      if (handler.deadLetterQueue) add(handler.deadLetterQueue, 'dead-letter', handler);
      for (const wait of handler.retryWaitQueues) add(wait.queue, 'retry-wait', handler, wait.delayMs);
    }
    for (const queue of this.options.deadLetterQueues) add(queue, 'dead-letter');
    for (const queue of this.options.queues) add(queue, 'configured');
    // In flight per queue: a queue shared by several handlers counts once.
    const consumers = new Map(handlers.map((h) => [h.queue, h.inFlight]));
    for (const row of rows.values()) row.inFlight = consumers.get(row.queue) ?? 0;
    await Promise.all(
      [...rows.values()].map(async (row) => {
        const depth = await this.depth(row.queue);
        Object.assign(row, depth);
        // Classic wait queues only: a quorum queue before RabbitMQ 4.3 counts every message given back as a delivery,
        // and a quorum wait queue's delivery limit would send a waiting message back before its time.
        if (row.role === 'retry-wait' && row.queue.startsWith(CLASSIC_WAIT_PREFIX) && !depth.missing && (depth.messages ?? 0) > 0) {
          row.waiting = await this.waiting(row.queue);
        }
      }),
    );
    return [...rows.values()];
  }

  connections(): ConnectionRow[] {
    return this.registry.getAll().map((connection) => {
      this.watch(connection);
      const watched = this.watching.get(connection.name)!;
      return {
        name: connection.name,
        status: connection.status,
        blockedReason: connection.blockedReason,
        since: watched.since,
        reconnects: watched.reconnects,
        channels: connection.channelCounts,
        brokers: connection.options.uris.map(maskUrl),
        topologyErrors: connection.topologyErrors.map((error) => error.message),
      };
    });
  }

  browse(queue: string, filter: DeadLetterFilter, page: number): Promise<DeadLetterPage> {
    const { pageSize, scanLimit, maskPaths, previewBytes } = this.options;
    return this.locked(queue, () => browseDeadLetters(this.connection, queue, { filter, page, pageSize, scanLimit, maskPaths, previewBytes }));
  }

  /** Replays the dead letters with these ids, or every one the filter takes. */
  replay(queue: string, what: { ids: string[] } | { filter: DeadLetterFilter }): Promise<DashboardReplayResult> {
    return this.locked(queue, async () => {
      const connection = this.options.connection;
      if ('ids' in what) {
        const wanted = new Set(what.ids);
        const found = new Set<string>();
        const result = await this.deadLetters.replay(queue, {
          connection,
          limit: wanted.size,
          filter: (letter) => {
            const id = deadLetterId(letter.messageId, letter.content);
            if (!wanted.has(id) || found.has(id)) return false;
            found.add(id);
            return true;
          },
        });
        return { replayed: result.replayed, missing: [...wanted].filter((id) => !found.has(id)), failed: result.failed };
      }
      const result = await this.deadLetters.replay(queue, { connection, filter: (letter) => matchesFilter(letter.reason, what.filter) });
      return { replayed: result.replayed, missing: [], failed: result.failed };
    });
  }

  purge(queue: string): Promise<number> {
    return this.locked(queue, () => this.deadLetters.purge(queue, { connection: this.options.connection }));
  }

  private async depth(queue: string): Promise<{ messages: number | null; consumers: number | null; missing?: true }> {
    try {
      const reply = await this.connection.withChannel((channel) => channel.checkQueue(queue));
      return { messages: reply.messageCount, consumers: reply.consumerCount };
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) return { messages: null, consumers: null, missing: true };
      throw error;
    }
  }

  private async waiting(queue: string): Promise<WaitingMessage[]> {
    const letters = await this.locked(queue, () => this.deadLetters.peek(queue, { connection: this.options.connection, limit: WAITING_SHOWN }));
    return letters.map((letter) => {
      const attempt = Number(letter.headers[WARREN_HEADERS.attempt]);
      const lastError = letter.headers[LAST_ERROR_HEADER];
      const returnsTo = letter.headers[WARREN_HEADERS.originalQueue];
      const due = letter.headers[RETRY_DUE_HEADER];
      return {
        messageId: letter.messageId,
        returnsTo: returnsTo === undefined ? undefined : String(returnsTo),
        attempt: Number.isFinite(attempt) ? attempt : undefined,
        lastError: lastError === undefined ? undefined : String(lastError).slice(0, 300),
        dueAt: typeof due === 'string' && !Number.isNaN(Date.parse(due)) ? new Date(due).toISOString() : undefined,
      };
    });
  }

  /** Runs `work` after whatever runs on `queue`: a scan must not see messages another scan holds unacked. */
  private locked<T>(queue: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queueLocks.get(queue) ?? Promise.resolve();
    const run = previous.then(work, work);
    const tail = run.catch(() => undefined);
    this.queueLocks.set(queue, tail);
    void tail.then(() => {
      if (this.queueLocks.get(queue) === tail) this.queueLocks.delete(queue);
    });
    return run;
  }
}
