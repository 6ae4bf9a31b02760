import { spawn, spawnSync } from 'node:child_process';
import { NestFactory } from '@nestjs/core';
import { AmqpConnection, partitionOf, partitionQueueName, RabbitMQModule } from '@warren/rabbitmq';
import type { Redis } from 'ioredis';
import type { Order } from '../../common/src/contracts';
import { orderIdOf } from '../../common/src/order-id';
import type { SampleNames } from '../../common/src/sample-names';
import type { PaymentRun } from '../../payments/src/payment.worker';
import type { SampleProcesses } from '../../launcher/src/sample-launcher';
import type { ApiClient } from './api-client';
import type { TimelinePrinter } from './timeline-printer';

/** Orders the cluster run places while it kills a node and a worker: every one must end paid, charged once. */
export const CLUSTER_LOAD_ORDERS = 90;

/** What the cluster run did and measured. */
export interface ClusterRun {
  loadOrderIds: string[];
  killedNode: string;
  killedQueue: string;
  killedWorker: string;
  /** ms since the epoch. */
  nodeKilledAt: number;
  /** ms since the epoch: `cluster.sh startnode` saw the killed node booted and rejoined. */
  nodeBackAt: number;
  /** The load orders placed after the kill: their events can only reach the killed node's queue through its new leader. */
  placedAfterKill: string[];
}

/** The node script of `npm run demo -- --cluster` (scripts/demo.js sets it, with the cluster's port base). */
export function clusterScript(): string | undefined {
  return process.env.WARREN_DEMO_CLUSTER_SCRIPT || undefined;
}

function cluster(script: string, ...args: string[]): string {
  const result = spawnSync('bash', [script, ...args], { encoding: 'utf8', timeout: 90_000 });
  if (result.status !== 0) throw new Error(`cluster script '${args.join(' ')}' failed: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

/**
 * As `cluster`, without blocking the event loop while the script runs (a node boot takes seconds).
 * The script runs in a process group of its own: a timeout stops it and its rabbitmqctl children,
 * which would otherwise keep the script's lock and hold up `cluster.sh stop`.
 */
function clusterInBackground(script: string, timeoutMs: number, ...args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `cluster script '${args.join(' ')}' failed (${signal ? `killed by ${signal} after ${timeoutMs / 1000} s` : `exit ${code}`}): ${stderr.trim()}`,
          ),
        );
    });
  });
}

/**
 * Waits until every partition queue of payments has its active consumer (a single-active-consumer
 * queue counts only that one), then for the workers to share the partitions out. The partition
 * queues and their slot bindings are declared by the payments workers: an order.created published
 * before they exist reaches no partition (the notifications queue still takes it, so the publish is
 * not unroutable). Start the consumers of a partitioned handler before its publishers.
 */
export async function waitForPartitions(amqpUrls: string[], names: SampleNames, count: number, heartbeatMs: number, timeoutMs: number): Promise<void> {
  const app = await NestFactory.createApplicationContext(RabbitMQModule.forRoot({ uri: amqpUrls, connectionName: 'sample-demo-partitions' }), {
    logger: false,
  });
  try {
    const amqp = app.get(AmqpConnection);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let ready = 0;
      for (let i = 0; i < count; i++) {
        const queue = partitionQueueName(names.queues.payments, i);
        const consumers = await amqp
          .withChannel((channel) => channel.checkQueue(queue))
          .then(
            (q) => q.consumerCount,
            () => 0,
          );
        if (consumers >= 1) ready++;
      }
      if (ready === count) {
        // Three heartbeats: every worker has heard of the others and let go of what it does not own.
        await new Promise((r) => setTimeout(r, 3 * heartbeatMs));
        return;
      }
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs / 1000} s waiting for a consumer on each of ${count} payments partitions (${ready} ready)`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await app.close();
  }
}

/**
 * Places the load orders in waves (retrying a POST that failed while the cluster failed over: the
 * same clientOrderId, so a retry is the same order) and, a third of the way in, kills with -9 the
 * node leading the first payments partition queue and one payments worker. The node is started
 * again at once, as its supervisor would (systemd, Kubernetes): it boots for several seconds while
 * the two others carry on. Running on without it would be fine for Warren, but not for every broker:
 * RabbitMQ 3.10.8 (Debian 12's) holds a message its at-least-once dead-letter worker was moving into
 * a queue whose leader died until that node is back (nothing is lost; see docs/cluster.md).
 */
export async function runClusterLoad(
  script: string,
  api: ApiClient,
  printer: TimelinePrinter,
  sample: SampleProcesses,
  names: SampleNames,
): Promise<ClusterRun> {
  const killedQueue = partitionQueueName(names.queues.payments, 0);
  const loadOrderIds: string[] = [];
  const placedAfterKill: string[] = [];
  let killed: { node: string; worker: string; at: number; back: Promise<number> } | undefined;
  printer.note(`cluster: placing ${CLUSTER_LOAD_ORDERS} more orders; the node leading ${killedQueue} and one payments worker are killed a third of the way in`);
  const wave = 10;
  try {
    for (let start = 0; start < CLUSTER_LOAD_ORDERS; start += wave) {
      if (!killed && start >= CLUSTER_LOAD_ORDERS / 3) killed = await killNodeAndWorker(script, killedQueue, sample, printer);
      const afterKill = killed !== undefined;
      const batch = Array.from({ length: Math.min(wave, CLUSTER_LOAD_ORDERS - start) }, (_, i) => start + i);
      await Promise.all(
        batch.map(async (n) => {
          const customer = `load-${n % 7}`;
          const clientOrderId = `cluster-${n}`;
          const body = {
            customerId: customer,
            clientOrderId,
            items: [{ sku: 'filter-papers', quantity: 1 }],
            cardToken: n % 9 === 0 ? 'tok_flaky_1' : 'tok_ok',
          };
          const deadline = Date.now() + 60_000;
          for (;;) {
            const response = await api.post<Order>('/orders', body).catch(() => undefined);
            if (response?.status === 201 || response?.status === 200) break;
            if (Date.now() > deadline) throw new Error(`POST /orders for ${clientOrderId} kept failing (last: ${response?.status ?? 'no answer'})`);
            await new Promise((r) => setTimeout(r, 250));
          }
          const id = orderIdOf(customer, clientOrderId);
          loadOrderIds.push(id);
          if (afterKill) placedAfterKill.push(id);
        }),
      );
    }
  } catch (error) {
    // Leave no node booting behind: the cluster is stopped next, and a boot in progress holds its lock.
    await killed?.back.catch(() => undefined);
    throw error;
  }
  if (!killed) throw new Error('the cluster run placed no order after the kill');
  const nodeBackAt = await killed.back;
  return { loadOrderIds, killedNode: killed.node, killedQueue, killedWorker: killed.worker, nodeKilledAt: killed.at, nodeBackAt, placedAfterKill };
}

/** Kills with -9 the node leading `queue` and a payments worker, and starts the node again in the background. */
async function killNodeAndWorker(
  script: string,
  queue: string,
  sample: SampleProcesses,
  printer: TimelinePrinter,
): Promise<{ node: string; worker: string; at: number; back: Promise<number> }> {
  const leader = cluster(script, 'leader', queue);
  const node = /warren-f([123])/.exec(leader)?.[1];
  if (!node) throw new Error(`cannot tell the node leading ${queue} from '${leader}'`);
  const worker = sample.processes.find((p) => p.label === 'payments-2') ?? sample.processes.find((p) => p.label.startsWith('payments'));
  if (!worker) throw new Error('no payments worker to kill');
  const at = Date.now();
  cluster(script, 'kill', node);
  await worker.kill();
  printer.note(`cluster: kill -9 node ${leader} (leader of ${queue}) and kill -9 ${worker.label}; the node is started again`);
  // cluster.sh waits up to WARREN_FAULT_BOOT_TIMEOUT (90 s) for the port, then as long for the boot.
  const back = clusterInBackground(script, 200_000, 'startnode', node).then(() => {
    printer.note(`cluster: node ${leader} has booted and rejoined the cluster`);
    return Date.now();
  });
  back.catch(() => undefined); // awaited by the caller
  return { node: leader, worker: worker.label, at, back };
}

/** Runs of the payments handler, per order: pairs that overlapped (two at once) or a failure handled after the order was paid. */
export interface OrderCheck {
  orders: number;
  runs: number;
  outOfOrderPairs: number;
  /** ms from the node kill to the end of the first payment of an order of the killed partition placed after it. */
  failoverMs: number | undefined;
}

export async function checkPaymentRuns(
  redis: Redis,
  names: SampleNames,
  run: Pick<ClusterRun, 'nodeKilledAt' | 'placedAfterKill'>,
  partitions: number,
): Promise<OrderCheck> {
  const runs = (await redis.lrange(names.keys.paymentRuns, 0, -1)).map((line) => JSON.parse(line) as PaymentRun);
  const byOrder = new Map<string, PaymentRun[]>();
  for (const run of runs) byOrder.set(run.orderId, [...(byOrder.get(run.orderId) ?? []), run]);
  let outOfOrderPairs = 0;
  for (const list of byOrder.values()) {
    list.sort((a, b) => a.startedAt - b.startedAt);
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const overlap = list[j].startedAt < list[i].endedAt;
        const failedAfterPaid = list[i].outcome === 'paid' && list[j].outcome === 'failed';
        if (overlap || failedAfterPaid) outOfOrderPairs++;
      }
    }
  }
  // Failover as a customer of the killed queue sees it: the first payment of an order placed after the
  // kill (its event reached the queue through the new leader, not a delivery already in a worker's hands).
  const afterKill = new Set(run.placedAfterKill);
  const first = runs
    .filter((r) => r.outcome === 'paid' && afterKill.has(r.orderId) && partitionOf(r.orderId, partitions) === 0)
    .sort((a, b) => a.endedAt - b.endedAt)[0];
  return { orders: byOrder.size, runs: runs.length, outOfOrderPairs, failoverMs: first ? first.endedAt - run.nodeKilledAt : undefined };
}
