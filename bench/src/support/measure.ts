import { nowMs } from './time';

/** Wall time and this process's CPU (user + system) over a window. */
export interface WindowMeasurement {
  durationMs: number;
  cpuUs: number;
}

export class MeasureWindow {
  private startWall = 0;
  private startCpu: NodeJS.CpuUsage | undefined;
  private result: WindowMeasurement | undefined;

  start(): void {
    this.startCpu = process.cpuUsage();
    this.startWall = nowMs();
  }

  get started(): boolean {
    return this.startCpu !== undefined;
  }

  get stopped(): boolean {
    return this.result !== undefined;
  }

  /** Ends the window (idempotent: the first call wins). */
  stop(): WindowMeasurement {
    if (this.result) return this.result;
    if (!this.startCpu) throw new Error('MeasureWindow.stop() before start()');
    const wall = nowMs();
    const cpu = process.cpuUsage(this.startCpu);
    this.result = { durationMs: wall - this.startWall, cpuUs: cpu.user + cpu.system };
    return this.result;
  }
}

/** Peak resident set size of this process so far, in MB. */
export function peakRssMb(): number {
  // maxRSS is in kilobytes on every platform Node supports.
  return process.resourceUsage().maxRSS / 1024;
}

/** Heap in use after a full garbage collection (needs `node --expose-gc`), in MB. */
export async function heapAfterGcMb(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('heap measurement needs node --expose-gc');
  // Two passes with a turn of the event loop between them let finalizers and
  // weak references from the first pass be collected by the second.
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return process.memoryUsage().heapUsed / (1024 * 1024);
}
