import type { TotalQueueChecker } from './checker';

export interface StreamOptions {
  /** Messages to publish. */
  count: number;
  /** Message ids are `${prefix}${index}`. */
  prefix: string;
  /** Publishes awaiting their confirm at most. @default 500 */
  window?: number;
  /** Messages per second at most, after the first `burst`. @default unpaced */
  rate?: number;
  /** Messages sent at once before pacing starts. @default 0 */
  burst?: number;
  /** Publishes one message; resolves on the broker's confirm. */
  publish: (id: string, index: number) => Promise<void>;
  checker: TotalQueueChecker;
}

/**
 * A stream of confirmed publishes recorded in a checker: at most `window` unconfirmed
 * at a time, optionally paced. A rejected publish is recorded and not retried by the
 * stream (the library already re-sends what it may; a rejection is the caller's to see).
 */
export class PublishStream {
  private next = 0;
  private settledCount = 0;
  private stopped = false;
  readonly done: Promise<void>;

  constructor(private readonly options: StreamOptions) {
    this.done = this.run();
  }

  /** Publishes started so far. */
  get sent(): number {
    return this.next;
  }

  get settled(): number {
    return this.settledCount;
  }

  /** Stops starting new publishes; `done` resolves once those started are settled. */
  stop(): void {
    this.stopped = true;
  }

  private async run(): Promise<void> {
    const { count, window = 500, rate, burst = 0, prefix, publish, checker } = this.options;
    let pacedFrom: number | undefined;
    const inFlight = new Set<Promise<void>>();
    while (this.next < count && !this.stopped) {
      if (rate !== undefined && this.next >= burst) {
        pacedFrom ??= Date.now();
        const due = pacedFrom + ((this.next - burst) / rate) * 1000;
        const wait = due - Date.now();
        if (wait > 1) await sleep(wait);
      }
      while (inFlight.size >= window) await Promise.race(inFlight);
      const index = this.next++;
      const id = `${prefix}${index}`;
      const p: Promise<void> = checker
        .track(id, () => publish(id, index))
        .then(() => {
          this.settledCount++;
          inFlight.delete(p);
        });
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` is true or `timeoutMs` passes; resolves whether it became true (never throws). */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}

/** With FAULT_TRACE set, prints progress every 500 ms until the returned function is called. */
export function trace(label: string, progress: () => Record<string, number | string | boolean>): () => void {
  if (!process.env.FAULT_TRACE) return () => undefined;
  const started = Date.now();
  const timer = setInterval(() => {
    const fields = Object.entries(progress())
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    process.stderr.write(`[trace ${label} +${((Date.now() - started) / 1000).toFixed(1)}s] ${fields}\n`);
  }, 500);
  return () => clearInterval(timer);
}
