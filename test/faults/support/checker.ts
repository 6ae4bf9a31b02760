import { WarrenError } from '@warren/rabbitmq';

/**
 * A total-queue checker in the style of the one RabbitMQ runs against its quorum queues
 * (Jepsen's `total-queue`): every message the publisher tried to send, had confirmed or had
 * rejected, every delivery a handler saw and every side effect it made is recorded by id;
 * at the end the sets are compared.
 *
 * - lost: confirmed, never processed. Must be 0.
 * - unexpected: processed, never published by this run.
 * - duplicated deliveries: handler runs beyond the first per id, plus redeliveries the
 *   dedup store absorbed (at-least-once delivery shows up here; it is not an error).
 * - duplicate side effects: a side effect performed twice for one id. 0 where dedup is on.
 * - rejected: publishes that failed with a typed error (not lost: the caller knows);
 *   unsettled: publishes that neither resolved nor rejected (silently dropped) — must be 0.
 *   Of those, `recovered` were processed anyway (the broker had them when the confirm was lost).
 * - recovery: per fault, from the end of the fault until the client has again had a publish
 *   confirmed and started a handler (after reconnecting, if the connection dropped).
 * - delayed (`delayedIds`): messages whose confirm, or whose processing, came more than a
 *   given time after the publish was attempted.
 */
export interface Figures {
  published: number;
  confirmed: number;
  rejected: number;
  rejectedBy: Record<string, number>;
  /** Rejections that were not a typed WarrenError (a caller could not branch on them). Must be 0. */
  untyped: number;
  /** Publishes neither confirmed nor rejected: silently dropped (or still hanging). Must be 0. */
  unsettled: number;
  recovered: number;
  processed: number;
  lost: number;
  lostIds: string[];
  duplicatedDeliveries: number;
  duplicateSideEffects: number;
  unexpected: number;
  unexpectedIds: string[];
  faults: number;
  /** Messages published and not yet processed when each fault began (smallest). */
  inFlightAtFault: number | undefined;
  /** Largest recovery time of the faults, ms. */
  recoveryMs: number | undefined;
}

interface Fault {
  label: string;
  startedAt: number;
  clearedAt?: number;
  inFlight: number;
}

export class TotalQueueChecker {
  private readonly attempted = new Set<string>();
  private readonly confirmedIds = new Set<string>();
  private readonly rejectedIds = new Map<string, string>();
  private readonly deliveries = new Map<string, number>();
  private readonly processedIds = new Set<string>();
  private readonly sideEffects = new Map<string, number>();
  /** Per id: when the publish was attempted, confirmed, and first processed (ms since the epoch). */
  private readonly attemptedAt = new Map<string, number>();
  private readonly confirmedAt = new Map<string, number>();
  private readonly processedAt = new Map<string, number>();
  private readonly confirmTimes: number[] = [];
  private readonly deliveryTimes: number[] = [];
  private readonly reconnects: number[] = [];
  private readonly faultList: Fault[] = [];
  private absorbed = 0;
  private untypedCount = 0;
  private extraSideEffectDuplicates = 0;

  // --- publisher side -----------------------------------------------------------------

  attempt(id: string): void {
    this.attempted.add(id);
    if (!this.attemptedAt.has(id)) this.attemptedAt.set(id, Date.now());
  }

  confirmed(id: string): void {
    const now = Date.now();
    this.confirmedIds.add(id);
    this.confirmTimes.push(now);
    if (!this.confirmedAt.has(id)) this.confirmedAt.set(id, now);
  }

  rejected(id: string, error: unknown): void {
    const name = error instanceof Error ? error.name : typeof error;
    this.rejectedIds.set(id, name);
    if (!(error instanceof WarrenError)) this.untypedCount++;
  }

  /** Publishes the message and records the outcome; never throws. */
  async track(id: string, publish: () => Promise<void>): Promise<boolean> {
    this.attempt(id);
    try {
      await publish();
      this.confirmed(id);
      return true;
    } catch (error) {
      this.rejected(id, error);
      return false;
    }
  }

  // --- consumer side ------------------------------------------------------------------

  /** A handler started on this message. */
  delivered(id: string): void {
    this.deliveries.set(id, (this.deliveries.get(id) ?? 0) + 1);
    this.deliveryTimes.push(Date.now());
  }

  /** A handler finished this message successfully. */
  processed(id: string): void {
    this.processedIds.add(id);
    if (!this.processedAt.has(id)) this.processedAt.set(id, Date.now());
  }

  /** A side effect was made for this message (call once per effect). */
  sideEffect(id: string): void {
    this.sideEffects.set(id, (this.sideEffects.get(id) ?? 0) + 1);
  }

  /** Side effects counted elsewhere (e.g. SADD returning 0 in another process). */
  addSideEffectDuplicates(count: number): void {
    this.extraSideEffectDuplicates += count;
  }

  /** Redeliveries that the dedup store acked without running the handler (handler stats `duplicates`). */
  addAbsorbed(count: number): void {
    this.absorbed += count;
  }

  // --- faults -------------------------------------------------------------------------

  /** The fault begins now. Returns its index for `faultCleared`. */
  faultStarted(label: string): number {
    this.faultList.push({ label, startedAt: Date.now(), inFlight: this.inFlight });
    return this.faultList.length - 1;
  }

  /** The fault is over (broker back, node restarted). Instant faults need not call it. */
  faultCleared(index: number): void {
    this.faultList[index].clearedAt = Date.now();
  }

  /** The client reported 'connected' again (feed it from `amqp.status$`). */
  reconnected(): void {
    this.reconnects.push(Date.now());
  }

  /** Messages published and not yet processed. */
  get inFlight(): number {
    let count = 0;
    for (const id of this.attempted) if (!this.processedIds.has(id)) count++;
    return count;
  }

  get processedCount(): number {
    return this.processedIds.size;
  }

  get confirmedCount(): number {
    return this.confirmedIds.size;
  }

  /** True once every confirmed message has been processed. */
  get settled(): boolean {
    for (const id of this.confirmedIds) if (!this.processedIds.has(id)) return false;
    return true;
  }

  deliveriesOf(id: string): number {
    return this.deliveries.get(id) ?? 0;
  }

  /** When the publish of this message was first attempted (ms since the epoch). */
  attemptTime(id: string): number | undefined {
    return this.attemptedAt.get(id);
  }

  /** Whether the broker confirmed this message. */
  wasConfirmed(id: string): boolean {
    return this.confirmedIds.has(id);
  }

  /** Whether a handler completed this message. */
  wasProcessed(id: string): boolean {
    return this.processedIds.has(id);
  }

  /**
   * Messages confirmed, or processed, more than `thresholdMs` after their publish was attempted
   * (at most 20 ids listed), of those `include` picks. Only meaningful where `attempt` is called
   * when the publish starts.
   */
  delayedIds(thresholdMs: number, include: (id: string) => boolean = () => true): { count: number; ids: string[]; slowestMs: number } {
    const ids: string[] = [];
    let slowestMs = 0;
    for (const [id, start] of this.attemptedAt) {
      if (!include(id)) continue;
      const confirm = this.confirmedAt.get(id);
      const processed = this.processedAt.get(id);
      const latency = Math.max(confirm === undefined ? 0 : confirm - start, processed === undefined ? 0 : processed - start);
      slowestMs = Math.max(slowestMs, latency);
      if (latency > thresholdMs) ids.push(id);
    }
    return { count: ids.length, ids: ids.slice(0, 20), slowestMs };
  }

  report(): Figures {
    const lostIds = [...this.confirmedIds].filter((id) => !this.processedIds.has(id));
    const unexpectedIds = [...this.processedIds].filter((id) => !this.attempted.has(id));
    let duplicatedDeliveries = this.absorbed;
    for (const n of this.deliveries.values()) duplicatedDeliveries += Math.max(0, n - 1);
    let duplicateSideEffects = this.extraSideEffectDuplicates;
    for (const n of this.sideEffects.values()) duplicateSideEffects += Math.max(0, n - 1);
    const rejectedBy: Record<string, number> = {};
    for (const name of this.rejectedIds.values()) rejectedBy[name] = (rejectedBy[name] ?? 0) + 1;
    let recovered = 0;
    for (const id of this.rejectedIds.keys()) if (this.processedIds.has(id)) recovered++;
    const recoveries = this.faultList.map((fault, i) => this.recoveryOf(fault, this.faultList[i + 1]?.startedAt));
    const known = recoveries.filter((r): r is number => r !== undefined);
    return {
      published: this.attempted.size,
      confirmed: this.confirmedIds.size,
      rejected: this.rejectedIds.size,
      rejectedBy,
      untyped: this.untypedCount,
      unsettled: this.attempted.size - this.confirmedIds.size - this.rejectedIds.size,
      recovered,
      processed: this.processedIds.size,
      lost: lostIds.length,
      lostIds: lostIds.slice(0, 20),
      duplicatedDeliveries,
      duplicateSideEffects,
      unexpected: unexpectedIds.length,
      unexpectedIds: unexpectedIds.slice(0, 20),
      faults: this.faultList.length,
      inFlightAtFault: this.faultList.length ? Math.min(...this.faultList.map((f) => f.inFlight)) : undefined,
      recoveryMs: known.length ? Math.max(...known) : undefined,
    };
  }

  /**
   * From the end of the fault to the first confirm and the first handler start after it;
   * when the client reconnected in between, only what happened after the reconnect counts
   * (deliveries still buffered from the dead connection are not a recovery).
   */
  private recoveryOf(fault: Fault, nextFault: number | undefined): number | undefined {
    const end = fault.clearedAt ?? fault.startedAt;
    const limit = nextFault ?? Infinity;
    const reconnect = this.reconnects.find((t) => t >= fault.startedAt && t < limit);
    const from = Math.max(end, reconnect ?? end);
    const confirm = this.confirmTimes.find((t) => t >= from);
    const delivery = this.deliveryTimes.find((t) => t >= from);
    if (confirm === undefined || delivery === undefined) return undefined;
    return Math.max(confirm, delivery) - end;
  }
}
