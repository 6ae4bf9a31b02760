import { spawn, type ChildProcess } from 'node:child_process';
import { capture } from './capture';
import { FAULT_WORKER } from './paths';

/** A child process running test/faults/support/fault-worker.js against the built library. */
export class WorkerProcess {
  private readonly child: ChildProcess;
  private output = '';
  private readonly waiters: Array<{ text: string; resolve: () => void }> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly label: string,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, [FAULT_WORKER], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (data: Buffer): void => {
      const text = data.toString();
      this.output += text;
      capture(label, text.trimEnd());
      for (const waiter of [...this.waiters]) {
        if (this.output.includes(waiter.text)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get text(): string {
    return this.output;
  }

  /** Resolves when the worker printed `text`; rejects if it exits first or `timeoutMs` passes. */
  waitFor(text: string, timeoutMs = 20_000): Promise<void> {
    if (this.output.includes(text)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: no '${text}' within ${timeoutMs} ms. Output:\n${this.output.slice(-2000)}`)), timeoutMs);
      const waiter = {
        text,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(waiter);
      void this.exited.then(({ code, signal }) => {
        if (!this.waiters.includes(waiter)) return;
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        clearTimeout(timer);
        reject(new Error(`${this.label} exited (${signal ?? code}) before printing '${text}'. Output:\n${this.output.slice(-2000)}`));
      });
    });
  }

  /** kill -9, after asking the worker to hold its side effects (see fault-worker.js). */
  async kill9(hold = true): Promise<void> {
    if (hold) {
      this.child.kill('SIGUSR2');
      await this.waitFor('held', 10_000);
    }
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Graceful stop (SIGTERM: the worker closes its Nest application). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}
