import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** Where a service's output goes: prefixed lines on the console, or a log file. */
export type OutputTarget = { kind: 'console'; color: boolean } | { kind: 'file'; path: string };

const COLORS = [36, 33, 35, 32, 34, 91, 96];

/**
 * One service running as a child process. Its output is prefixed with its name
 * (or written to a file); it gets an IPC channel so it stops by itself if the
 * launcher dies; `stop()` asks it to shut down gracefully and kills it after a deadline.
 */
export class ServiceProcess {
  private readonly child: ChildProcess;
  private readonly file?: WriteStream;
  /** Resolves with the exit code (or the signal) once the process has ended. */
  readonly exited: Promise<number | string>;
  private stopping = false;

  constructor(
    readonly label: string,
    entry: string,
    env: NodeJS.ProcessEnv,
    output: OutputTarget,
    index: number,
  ) {
    this.child = spawn(process.execPath, [entry], {
      env: { ...process.env, ...env, ...(output.kind === 'file' || !output.color ? { NO_COLOR: '1' } : { FORCE_COLOR: '1' }) },
      // A process group of its own: Ctrl-C reaches the launcher only, which then stops each service once, gracefully.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let write: (line: string) => void;
    if (output.kind === 'file') {
      const file = createWriteStream(output.path, { flags: 'a' });
      this.file = file;
      write = (line) => file.write(`${line}\n`);
    } else {
      const name = label.padEnd(14);
      const prefix = output.color ? `\x1b[${COLORS[index % COLORS.length]}m${name}|\x1b[0m ` : `${name}| `;
      write = (line) => process.stdout.write(`${prefix}${line}\n`);
    }
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', write);
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.file?.end();
        resolve(code ?? signal ?? 'unknown');
      });
      this.child.once('error', (error) => {
        write(`could not start: ${error.message}`);
        resolve('spawn-error');
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** SIGKILL at once, as a crash would (what the cluster demo does to a worker); not reported as unexpected. */
  async kill(): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (Nest closes consumers, drains, closes connections), then SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
