import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { capture } from './capture';
import { opensslMissing, testPki } from './certs';
import { faultCredentials } from './fault-env';
import { CLUSTER_SCRIPT } from './paths';

const run = promisify(execFile);

/** A node of test/faults/support/cluster.sh: 1..3 are clustered, 'solo' stands alone. */
export type NodeId = 1 | 2 | 3 | 'solo';

// 5700: clear of the default broker (5672), a local cluster (5681-5683) and RabbitMQ 4.0 of scripts/rabbitmq4.sh (5692).
const PORT_BASE = Number(process.env.WARREN_FAULT_PORT ?? 5700);

/** The root file system the throwaway nodes run in (cluster.sh chroots into it), or undefined for this machine's RabbitMQ. */
export const NODE_ROOT = process.env.WARREN_FAULT_ROOT || undefined;

export function amqpPort(node: NodeId): number {
  return PORT_BASE + (node === 'solo' ? 4 : node);
}

/** The solo node's amqps listener. */
export const TLS_PORT = PORT_BASE + 5;

/** Runs the cluster script; resolves its stdout, rejects with its stderr. */
export async function clusterScript(args: string[], timeoutMs = 180_000): Promise<string> {
  try {
    const { stdout, stderr } = await run('bash', [CLUSTER_SCRIPT, ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    if (stderr.trim()) capture('cluster.sh', stderr.trim());
    return stdout;
  } catch (error) {
    const e = error as Error & { stderr?: string; stdout?: string };
    const detail = (e.stderr || e.stdout || e.message).trim().split('\n').slice(-3).join(' ');
    throw new Error(`cluster.sh ${args.join(' ')} failed: ${detail}`, { cause: error });
  }
}

/** Node names carry the port base unless it is the default one (see cluster.sh). */
const NODE_SUFFIX = PORT_BASE === 5690 ? '' : `-${PORT_BASE}`;

/** The node name, e.g. warren-f1@localhost, as rabbitmqctl and queue leaders show it. */
export function nodeName(node: NodeId): string {
  return `warren-f${node}${NODE_SUFFIX}@localhost`;
}

export function nodeCtl(node: NodeId, ...args: string[]): Promise<string> {
  return clusterScript(['ctl', String(node), ...args], 60_000);
}

/** Gives the suite's test user full rights on the node (or cluster). */
async function addFaultUser(node: NodeId): Promise<void> {
  const { user, password } = faultCredentials();
  await nodeCtl(node, 'add_user', user, password).catch((error: Error) => {
    if (!/already exists/i.test(error.message)) throw error;
  });
  await nodeCtl(node, 'set_permissions', '-p', '/', user, '.*', '.*', '.*');
}

/** Whether this machine can run extra RabbitMQ nodes at all (the fault suite skips node scenarios if not). */
export async function nodesUnavailable(): Promise<string | undefined> {
  try {
    await run(
      'bash',
      ['-c', 'test -x "${WARREN_FAULT_ROOT%/}${RABBITMQ_SBIN:-/usr/lib/rabbitmq/bin}/rabbitmq-server" && command -v setsid && command -v flock'],
      {
        timeout: 5000,
      },
    );
    return undefined;
  } catch {
    return `RabbitMQ server scripts (RABBITMQ_SBIN, default /usr/lib/rabbitmq/bin${NODE_ROOT ? ` inside ${NODE_ROOT}` : ''}), setsid or flock not found: extra nodes cannot be started here`;
  }
}

/**
 * Why the cluster scenarios do not run in this run, or undefined. They run on this machine's RabbitMQ
 * (3.10) only: see "Broker versions" in test/faults/README.md.
 */
export function clusterNotInThisRun(): string | undefined {
  if (NODE_ROOT)
    return `the cluster scenarios run on this machine's RabbitMQ (3.10) only, not on the one in ${NODE_ROOT} (test/faults/README.md, "Broker versions")`;
  return undefined;
}

/** Boots (or reuses) the 3-node cluster. Resolves undefined when ready, or the reason it is not. */
export async function startCluster(): Promise<string | undefined> {
  const elsewhere = clusterNotInThisRun();
  if (elsewhere) return elsewhere;
  const missing = await nodesUnavailable();
  if (missing) return missing;
  try {
    await clusterScript(['start']);
    await addFaultUser(1);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Boots (or reuses) the standalone node, with an amqps listener when `tlsDir` holds ca.pem, server.pem, server.key. */
export async function startSolo(tlsDir?: string): Promise<string | undefined> {
  const missing = await nodesUnavailable();
  if (missing) return missing;
  try {
    await clusterScript(tlsDir ? ['solo', tlsDir] : ['solo']);
    await addFaultUser('solo');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

export async function killNode(node: NodeId): Promise<void> {
  await clusterScript(['kill', String(node)]);
}

export async function stopNode(node: NodeId): Promise<void> {
  await clusterScript(['stopnode', String(node)]);
}

export async function startNode(node: NodeId): Promise<void> {
  await clusterScript(['startnode', String(node)]);
}

/** The node that leads a quorum queue, e.g. 2, or undefined. */
export async function leaderOf(queue: string): Promise<NodeId | undefined> {
  const out = await clusterScript(['leader', queue], 60_000).catch(() => '');
  const match = /warren-f(\d|solo)(?:-\d+)?@/.exec(out);
  if (!match) return undefined;
  return match[1] === 'solo' ? 'solo' : (Number(match[1]) as NodeId);
}

/** Stops every node the script started and deletes their data (unless WARREN_FAULT_KEEP_NODES is set). */
export async function stopAllNodes(): Promise<void> {
  if (process.env.WARREN_FAULT_KEEP_NODES) return;
  if (await nodesUnavailable()) return;
  await clusterScript(['stop']).catch((error: Error) => process.stderr.write(`${error.message}\n`));
}

/** Boots the standalone node with its amqps listener (the test PKI is made first when openssl is there). */
export async function ensureSolo(): Promise<string | undefined> {
  const dir = (await opensslMissing()) ? undefined : (await testPki()).dir;
  return startSolo(dir);
}
