import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { until } from './stream';

const run = promisify(execFile);

/** The machine's PostgreSQL binaries: /usr/lib/postgresql/<newest>/bin, or WARREN_FAULT_PG_BIN. */
export function postgresBin(): string | undefined {
  if (process.env.WARREN_FAULT_PG_BIN) return process.env.WARREN_FAULT_PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(root, versions[0], 'bin') : undefined;
}

/**
 * A PostgreSQL server of the scenario's own — initdb into a temporary directory, its own port,
 * trust auth — that the scenario may restart and kill. The shared server at 5432 is never touched.
 * Run as root, the server runs as the `postgres` OS user (initdb and postgres refuse root).
 */
export class ThrowawayPostgres {
  private constructor(
    readonly bin: string,
    readonly dir: string,
    readonly port: number,
    private readonly asUser: string | undefined,
  ) {}

  /** Creates and starts the server; on any failure the directory is removed again. */
  static async start(port: number): Promise<ThrowawayPostgres> {
    const bin = postgresBin();
    if (!bin) throw new Error('no PostgreSQL binaries in /usr/lib/postgresql/*/bin (set WARREN_FAULT_PG_BIN)');
    const dir = mkdtempSync(join(tmpdir(), 'warren-fault-pg-'));
    const asUser = process.getuid?.() === 0 ? 'postgres' : undefined;
    const server = new ThrowawayPostgres(bin, dir, port, asUser);
    try {
      if (asUser) {
        const { stdout } = await run('id', ['-u', asUser]);
        const { stdout: gid } = await run('id', ['-g', asUser]);
        chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
      }
      await server.exec('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '--no-instructions']);
      await server.startServer();
      return server;
    } catch (error) {
      await server.destroy();
      throw error;
    }
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** The postmaster's pid (first line of postmaster.pid), or undefined when it is not running. */
  get postmasterPid(): number | undefined {
    const file = join(this.dir, 'data', 'postmaster.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  /** Starts the server and waits until it accepts connections. */
  async startServer(): Promise<void> {
    await this.exec('pg_ctl', ['-D', join(this.dir, 'data'), '-w', '-t', '60', '-l', join(this.dir, 'server.log'), '-o', this.serverOptions(), 'start']);
  }

  /** `pg_ctl restart -m fast`: every session is ended, the server shut down cleanly and started again. */
  async restartFast(): Promise<void> {
    await this.exec('pg_ctl', [
      '-D',
      join(this.dir, 'data'),
      '-w',
      '-t',
      '60',
      '-m',
      'fast',
      '-l',
      join(this.dir, 'server.log'),
      '-o',
      this.serverOptions(),
      'restart',
    ]);
  }

  /**
   * kill -9 of the postmaster: no shutdown at all. Its backends notice the postmaster's death and
   * exit; the next start recovers from the WAL. Resolves once the old processes are gone.
   */
  async kill9(): Promise<void> {
    const pid = this.postmasterPid;
    if (pid === undefined) throw new Error('the throwaway PostgreSQL is not running');
    process.kill(pid, 'SIGKILL');
    await until(() => !alive(pid), 10_000, 20);
  }

  /** Starts after a kill -9: retried while the dead postmaster's backends still hold its shared memory. */
  async startAfterCrash(): Promise<void> {
    let last: unknown;
    const started = await until(
      async () => {
        try {
          await this.startServer();
          return true;
        } catch (error) {
          last = error;
          return false;
        }
      },
      30_000,
      250,
    );
    if (!started) throw new Error(`the throwaway PostgreSQL did not start after kill -9: ${String(last)}\n${this.log().slice(-2000)}`);
  }

  /** The server's log, for a failure message. */
  log(): string {
    const file = join(this.dir, 'server.log');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }

  /** Stops the server (immediate; a kill -9 if that fails) and removes its directory. Never throws. */
  async destroy(): Promise<void> {
    const pid = this.postmasterPid;
    if (pid !== undefined && alive(pid)) {
      await this.exec('pg_ctl', ['-D', join(this.dir, 'data'), '-w', '-t', '20', '-m', 'immediate', 'stop']).catch(() => undefined);
      if (alive(pid)) {
        process.kill(pid, 'SIGKILL');
        await until(() => !alive(pid), 10_000, 20);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private serverOptions(): string {
    // The socket goes in the scenario's directory, not /var/run/postgresql (the shared server's).
    return `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c max_connections=50 -c shared_buffers=16MB`;
  }

  private async exec(tool: string, args: string[]): Promise<void> {
    const file = join(this.bin, tool);
    const [command, argv] = this.asUser ? ['runuser', ['-u', this.asUser, '--', file, ...args]] : [file, args];
    try {
      await run(command, argv, { cwd: this.dir, timeout: 90_000 });
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${tool} ${args.at(-1)} failed: ${e.message}\n${e.stderr ?? ''}${e.stdout ?? ''}\n${this.log().slice(-2000)}`, { cause: error });
    }
  }
}

/** Running, and not a zombie waiting to be reaped (the postmaster's parent is whoever adopted it). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}
