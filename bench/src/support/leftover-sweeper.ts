import * as amqp from 'amqplib';
import { listExchangeNames, listQueueNames, rabbitmqctlAvailable } from './rabbitmqctl';

/**
 * Run-level safety net. Trials delete what they create; this removes what a
 * crashed trial left (every name of the run starts with the run prefix).
 *
 * Shared topology that a library declares under fixed names (Warren's
 * `warren.retry.*` wait queues and exchanges, `warren.dlx`) is only reported:
 * other applications on the same broker (the e2e tests, say) may be using it
 * at that very moment, even when it looks idle, so it is never deleted.
 */

export interface BrokerNames {
  queues: Set<string>;
  exchanges: Set<string>;
}

export interface LeftoverReport {
  checked: boolean;
  /** Names with the run prefix still on the broker after the trials (a trial failed to clean up). */
  found: string[];
  deleted: number;
  /** Shared names our trials declared that did not exist before the run (left in place). */
  sharedCreated: string[];
  /** Shared names our trials declared that already existed. */
  sharedReused: string[];
  note?: string;
}

export async function snapshotBrokerNames(): Promise<BrokerNames | undefined> {
  if (!(await rabbitmqctlAvailable())) return undefined;
  try {
    return { queues: new Set(await listQueueNames()), exchanges: new Set(await listExchangeNames()) };
  } catch {
    return undefined;
  }
}

async function deleteAll(url: string, prefix: string, names: readonly (readonly ['queue' | 'exchange', string])[]): Promise<number> {
  const connection = await amqp.connect(url, { clientProperties: { connection_name: `${prefix}-sweep` } });
  connection.on('error', () => undefined);
  let deleted = 0;
  try {
    const channel = await connection.createChannel();
    for (const [kind, name] of names) {
      if (kind === 'queue') await channel.deleteQueue(name);
      else await channel.deleteExchange(name);
      deleted++;
    }
  } finally {
    await connection.close().catch(() => undefined);
  }
  return deleted;
}

export async function sweepLeftovers(
  url: string,
  prefix: string,
  before: BrokerNames | undefined,
  sharedDeclared: { queues: readonly string[]; exchanges: readonly string[] },
): Promise<LeftoverReport> {
  const report: LeftoverReport = { checked: false, found: [], deleted: 0, sharedCreated: [], sharedReused: [] };
  const shared = [...new Set([...sharedDeclared.queues.map((n) => `queue ${n}`), ...sharedDeclared.exchanges.map((n) => `exchange ${n}`)])].sort();
  if (!before) {
    report.note = 'rabbitmqctl not available, or it failed at the start of the run';
    report.sharedReused = shared;
    return report;
  }
  try {
    const queues = await listQueueNames();
    const exchanges = await listExchangeNames();
    const ours = [...queues.map((n) => ['queue', n] as const), ...exchanges.map((n) => ['exchange', n] as const)].filter(([, n]) => n.startsWith(prefix));
    report.found = ours.map(([, n]) => n);
    if (ours.length) report.deleted = await deleteAll(url, prefix, ours);
    for (const entry of shared) {
      const [kind, name] = entry.split(' ', 2);
      const existed = kind === 'queue' ? before.queues.has(name) : before.exchanges.has(name);
      (existed ? report.sharedReused : report.sharedCreated).push(entry);
    }
    report.checked = true;
  } catch (err) {
    report.note = (err as Error).message;
  }
  return report;
}
