import type { ConsumeInfo, ConsumeOutcome, WarrenTelemetry } from '../options/telemetry.interface';

/** Durations kept per handler for the percentiles. */
const SAMPLES = 1024;
/** The window rates are computed over. */
const WINDOW_MS = 60_000;

/** Latency and rates of one handler over the last minute, as the dashboard shows them. */
export interface HandlerTimings {
  /** Deliveries per second over the last minute, by outcome. */
  ratePerSecond: Partial<Record<ConsumeOutcome, number>>;
  /** Handling time of the last deliveries (up to 1024), in ms; undefined before the first. */
  p50Ms?: number;
  p99Ms?: number;
}

class HandlerWindow {
  private readonly durations = new Float64Array(SAMPLES);
  private count = 0;
  /** [time, outcome] of the deliveries of the last minute, oldest first. */
  private readonly events: Array<[number, ConsumeOutcome]> = [];

  record(durationMs: number, outcome: ConsumeOutcome, now: number): void {
    this.durations[this.count % SAMPLES] = durationMs;
    this.count++;
    this.events.push([now, outcome]);
    this.trim(now);
  }

  timings(now: number): HandlerTimings {
    this.trim(now);
    const ratePerSecond: Partial<Record<ConsumeOutcome, number>> = {};
    for (const [, outcome] of this.events) ratePerSecond[outcome] = (ratePerSecond[outcome] ?? 0) + 1;
    for (const key of Object.keys(ratePerSecond) as ConsumeOutcome[]) ratePerSecond[key] = ratePerSecond[key]! / (WINDOW_MS / 1000);
    const filled = Math.min(this.count, SAMPLES);
    if (filled === 0) return { ratePerSecond };
    const sorted = Array.from(this.durations.subarray(0, filled)).sort((a, b) => a - b);
    const at = (q: number): number => sorted[Math.min(filled - 1, Math.ceil(q * filled) - 1)];
    return { ratePerSecond, p50Ms: at(0.5), p99Ms: at(0.99) };
  }

  private trim(now: number): void {
    let drop = 0;
    while (drop < this.events.length && this.events[drop][0] < now - WINDOW_MS) drop++;
    if (drop > 0) this.events.splice(0, drop);
  }
}

/**
 * A telemetry that times every delivery per handler, for the dashboard's latency (p50, p99 of the
 * last 1024 deliveries) and rate (last minute) columns. Pass one instance both to RabbitMQModule's
 * `telemetry` and to WarrenDashboardModule's `telemetry`. It never changes a delivery's outcome.
 */
export class DashboardTelemetry implements WarrenTelemetry {
  private readonly handlers = new Map<string, HandlerWindow>();

  async onConsume(info: ConsumeInfo, next: () => Promise<ConsumeOutcome>): Promise<ConsumeOutcome> {
    const started = performance.now();
    const outcome = await next();
    if (info.handler !== undefined) {
      let window = this.handlers.get(info.handler);
      if (!window) this.handlers.set(info.handler, (window = new HandlerWindow()));
      window.record(performance.now() - started, outcome, Date.now());
    }
    return outcome;
  }

  /** The handler's latency and rates; undefined before its first delivery. */
  timings(handler: string, now = Date.now()): HandlerTimings | undefined {
    return this.handlers.get(handler)?.timings(now);
  }
}
