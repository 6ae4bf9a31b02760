import { execFile } from 'child_process';
import * as path from 'path';

/**
 * The few `rabbitmqctl` calls the suite needs: closing given connections from
 * the broker side, and listing leftover queues/exchanges. Each call is bounded
 * in time. `rabbitmqctl` talks to the local node only, which matches the
 * loopback-only rule for AMQP_URL.
 */

const CALL_TIMEOUT_MS = 30_000;
/** Port of the RabbitMQ 4 node that scripts/rabbitmq4.sh runs beside the default broker. */
const RABBITMQ4_PORT = process.env.R4_PORT ?? '5692';

/**
 * The command that manages the broker under test, as argv: RABBITMQCTL (a command line split on
 * spaces, e.g. `bash scripts/rabbitmq4.sh ctl`) when set; scripts/rabbitmq4.sh for a URL on the
 * RabbitMQ 4 node's port; else the rabbitmqctl on the PATH, which reaches the default node. Closing
 * or listing on another node than the one benchmarked would find nothing.
 */
export function rabbitmqctlCommand(env: NodeJS.ProcessEnv = process.env): string[] {
  const configured = env.RABBITMQCTL?.trim();
  if (configured) return configured.split(/\s+/);
  const url = env.AMQP_URL;
  if (url !== undefined && url !== '' && new URL(url).port === RABBITMQ4_PORT) {
    return ['bash', path.join(__dirname, '..', '..', '..', 'scripts', 'rabbitmq4.sh'), 'ctl'];
  }
  return ['rabbitmqctl'];
}

function run(args: string[]): Promise<string> {
  const [command, ...prefix] = rabbitmqctlCommand();
  return new Promise((resolve, reject) => {
    execFile(command, [...prefix, ...args], { timeout: CALL_TIMEOUT_MS, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err)
        reject(
          new Error(
            `rabbitmqctl ${args[0]} failed: ${String(stderr || err.message)
              .trim()
              .split('\n')
              .slice(-3)
              .join(' | ')}`,
          ),
        );
      else resolve(stdout);
    });
  });
}

/** rabbitmqctl's JSON formatter prints one object per line between `[` and `]`. */
function parseJsonList<T>(stdout: string): T[] {
  const text = stdout.trim();
  if (!text) return [];
  return JSON.parse(text) as T[];
}

export async function rabbitmqctlAvailable(): Promise<boolean> {
  try {
    await run(['version']);
    return true;
  } catch {
    return false;
  }
}

/** Whether connections can be listed (rabbitmqctl present, and allowed to talk to the node); the reason if not. */
export async function canManageConnections(): Promise<string | undefined> {
  try {
    await run(['list_connections', 'pid', '-q', '--no-table-headers']);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Closes, from the broker side, the connections whose client port is one of
 * `localPorts` (the broker's `peer_port`). Other clients of the broker are
 * never touched. Returns the number of connections closed.
 */
export async function closeConnectionsByClientPort(localPorts: readonly number[], reason: string): Promise<number> {
  // Tab-separated, not JSON: the JSON formatter prints pids in Elixir syntax
  // (#PID<...>) that close_connection does not accept.
  const stdout = await run(['list_connections', 'pid', 'peer_port', '-q', '--no-table-headers']);
  const pids = stdout
    .split('\n')
    .map((line) => line.trim().split('\t'))
    .filter(([pid, port]) => pid?.startsWith('<') && localPorts.includes(Number(port)))
    .map(([pid]) => pid);
  await Promise.all(pids.map((pid) => run(['close_connection', pid, reason])));
  return pids.length;
}

export async function listQueueNames(): Promise<string[]> {
  return parseJsonList<{ name: string }>(await run(['list_queues', 'name', '--formatter', 'json', '-q'])).map((r) => r.name);
}

export async function listExchangeNames(): Promise<string[]> {
  return parseJsonList<{ name: string }>(await run(['list_exchanges', 'name', '--formatter', 'json', '-q'])).map((r) => r.name);
}
