import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { TERMINAL_STATES, type Order, type TimelineEntry } from '../../common/src/contracts';
import { orderIdOf } from '../../common/src/order-id';
import { connectRedis } from '../../common/src/redis-client.factory';
import { loadSampleConfig } from '../../common/src/sample-config';
import { sampleNames } from '../../common/src/sample-names';
import type { ServiceReport } from '../../common/src/service-registry';
import type { SystemSummary } from '../../orders/src/admin/summary.service';
import { DASHBOARD_PATH } from '../../orders/src/dashboard-path';
import { launchSample, type SampleProcesses } from '../../launcher/src/sample-launcher';
import { ApiClient } from './api-client';
import { checkPaymentRuns, clusterScript, runClusterLoad, waitForPartitions, type ClusterRun, type OrderCheck } from './cluster-run';
import { ConsoleStyle, renderTable } from './console-style';
import { deleteNamespace } from './demo-cleanup';
import { DEMO_ORDERS, type DemoOrder } from './demo-orders';
import { TimelinePrinter } from './timeline-printer';

const ROOT = resolve(__dirname, '..', '..', '..', '..');
/** `npm run demo -- --cluster`: scripts/demo.js started a 3-node cluster and points AMQP_URL at it. */
const CLUSTER_SCRIPT = clusterScript();
const PAYMENT_WORKERS = CLUSTER_SCRIPT ? 3 : 2;
/** Short delays so the whole story fits in a few seconds. */
const DEMO_ENV = {
  PAYMENT_RETRY_DELAY_MS: '300',
  PAYMENT_RETRY_MAX_DELAY_MS: '2000',
  PAYMENT_RETRY_JITTER: '0.2',
  PAYMENT_MAX_ATTEMPTS: '4',
  REMINDER_DELAY_MS: '1500',
  SHIPPING_WORK_MS: '30',
  HEARTBEAT_MS: '250',
  LOG_LEVEL: 'log',
};

interface PlacedOrder {
  demo: DemoOrder;
  id: string;
  statuses: number[];
}

const style = new ConsoleStyle();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  const startedAt = Date.now();
  const keep = process.argv.includes('--keep');
  const runId = startedAt.toString(36);
  const namespace = `demo-${runId}.`;
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...DEMO_ENV, SAMPLE_NAMESPACE: namespace, ORDERS_PORT: String(port) };
  const config = loadSampleConfig({ ...process.env, ...env });
  const names = sampleNames(namespace);
  const logDir = join(ROOT, '.tmp', 'demo', runId);
  mkdirSync(logDir, { recursive: true });

  const printer = new TimelinePrinter(startedAt, style);
  const redis = await connectRedis(config.redisUrl, 'sample-demo');
  const subscriber = redis.duplicate();
  subscriber.on('error', () => undefined);
  await subscriber.subscribe(names.keys.timelineChannel);
  subscriber.on('message', (_channel, message) => printer.onEntry(JSON.parse(message) as TimelineEntry));

  console.log(style.bold('\nWarren sample: order processing on RabbitMQ'));
  console.log(style.dim(`namespace '${namespace}' · services log to ${relative(process.cwd(), logDir)}/ · retries 300 ms × 2ⁿ · reminders after 1.5 s\n`));

  let failure: string | undefined;
  const sample = launchSample({
    env,
    services: [{ name: 'inventory' }, { name: 'payments', instances: PAYMENT_WORKERS }, { name: 'notifications' }, { name: 'orders' }],
    output: { kind: 'files', dir: logDir },
    onUnexpectedExit: (label, code) => {
      failure ??= `${label} stopped unexpectedly (exit ${code}); see ${relative(process.cwd(), join(logDir, `${label}.log`))}`;
      console.error(style.red(`\n${failure}`));
    },
  });
  const api = new ApiClient(`http://127.0.0.1:${port}`);
  let exitCode = 1;
  try {
    await waitForServices(api, () => failure, logDir);
    if (config.paymentPartitions > 0) await waitForPartitions(config.amqpUrls, names, config.paymentPartitions, config.heartbeatMs, 45_000);
    printer.note(
      `services up: orders (http://localhost:${port}), inventory, payments ×${PAYMENT_WORKERS}${config.paymentPartitions > 0 ? ` on ${config.paymentPartitions} partitions keyed by order id` : ''}, notifications`,
    );
    const placed = await placeOrders(api, printer);
    const clusterRun = CLUSTER_SCRIPT ? await runClusterLoad(CLUSTER_SCRIPT, api, printer, sample, names) : undefined;
    await broadcast(api, printer);
    const placedSettled = until(() => unsettled(api, placed));
    await waitUntil(placedSettled.check, 'every order to reach its state', 40_000, () => failure, placedSettled.missing);
    if (clusterRun) {
      const loadPaid = until(() => notYetPaid(api, clusterRun.loadOrderIds));
      await waitUntil(loadPaid.check, 'every order of the cluster run to be paid', 60_000, () => failure, loadPaid.missing);
    }
    await showRedelivery(api, printer, placed);
    const deadLetters = await showDeadLetters(api, printer, placed, names.queues.paymentsDlq);
    const replayed = until(() => unsettled(api, placed, true));
    await waitUntil(replayed.check, 'the replayed order to be paid', 20_000, () => failure, replayed.missing);
    await sleep(4 * Number(DEMO_ENV.HEARTBEAT_MS));
    const cluster = clusterRun
      ? { ...clusterRun, partitions: config.paymentPartitions, check: await checkPaymentRuns(redis, names, clusterRun, config.paymentPartitions) }
      : undefined;
    exitCode = (await printSummary(api, printer, placed, deadLetters, startedAt, cluster)) ? 0 : 1;
  } catch (error) {
    console.error(style.red(`\nThe demo stopped: ${(error as Error).message}`));
    console.error(`Service logs: ${relative(process.cwd(), logDir)}/`);
  } finally {
    await stop(sample);
    await subscriber.quit().catch(() => undefined);
    if (keep) {
      console.log(`Kept namespace '${namespace}': queues ${namespace}*, Redis keys ${names.redisPrefix}*`);
    } else {
      await deleteNamespace(config, names, redis).catch((error: Error) => console.error(`Cleanup incomplete: ${error.message}`));
    }
    await redis.quit().catch(() => undefined);
  }
  return exitCode;
}

async function placeOrders(api: ApiClient, printer: TimelinePrinter): Promise<PlacedOrder[]> {
  printer.note('placing orders (POST /orders)');
  const placed: PlacedOrder[] = [];
  for (const demo of DEMO_ORDERS) {
    const clientOrderId = `demo-${demo.label.slice(1)}`;
    const id = orderIdOf(demo.customer, clientOrderId);
    const who = `${demo.label} ${demo.customer}`;
    printer.name(id, who);
    printer.client(who, `${demo.story}`);
    const body = { customerId: demo.customer, clientOrderId, items: demo.items, cardToken: demo.cardToken ?? 'tok_ok', express: demo.express ?? false };
    const order: PlacedOrder = { demo, id, statuses: [] };
    const post = async (): Promise<void> => {
      const response = await api.post<Order & { message?: string }>('/orders', body);
      order.statuses.push(response.status);
      const text = response.status === 201 ? 'created' : response.status === 200 ? 'same order returned, nothing published' : response.body.message;
      printer.client(who, `POST /orders → ${response.status} ${text}`);
    };
    if ((demo.posts ?? 1) > 1) {
      // A client whose first request timed out on its side: two at once, then one more.
      await Promise.all([post(), post()]);
      for (let i = 2; i < (demo.posts ?? 1); i++) await post();
    } else {
      await post();
    }
    placed.push(order);
    await sleep(250);
  }
  return placed;
}

async function broadcast(api: ApiClient, printer: TimelinePrinter): Promise<void> {
  await api.post('/admin/broadcast', { message: 'Demo: the shop closes for maintenance at 22:00' });
  printer.note('POST /admin/broadcast → published to the fanout exchange (each notifications instance gets a copy)');
}

async function showRedelivery(api: ApiClient, printer: TimelinePrinter, placed: PlacedOrder[]): Promise<void> {
  for (const order of placed.filter((o) => o.demo.republish)) {
    const before = await handlerStats(api);
    await api.post(`/admin/orders/${order.id}/republish`);
    printer.client(`${order.demo.label} ${order.demo.customer}`, 'POST /admin/orders/:id/republish → the same order.created again (same messageId)');
    await waitUntil(
      async () => (await handlerStats(api))['payments.charge']?.duplicates > (before['payments.charge']?.duplicates ?? 0),
      'dedup to drop the redelivery',
      10_000,
    );
    printer.note(`payments: duplicate order.created acked without running the handler (dedup on the order id, in Redis) — not charged again`);
  }
}

async function showDeadLetters(api: ApiClient, printer: TimelinePrinter, placed: PlacedOrder[], dlq: string): Promise<{ replayed: number; kept: number }> {
  const peek = await api.get<{
    count: number;
    deadLetters: Array<{ payload: { orderId: string }; reason: { errorName: string; errorMessage: string; handler?: string; attempts: number } }>;
  }>(`/admin/dead-letters/${encodeURIComponent(dlq)}`);
  printer.note(`GET /admin/dead-letters/${dlq} → ${peek.body.count} dead letter(s):`);
  for (const letter of peek.body.deadLetters) {
    printer.note(
      `  ${printer.labelOf(letter.payload.orderId)}: ${letter.reason.errorName}: ${letter.reason.errorMessage} (handler ${letter.reason.handler}, ${letter.reason.attempts} attempt(s))`,
    );
  }
  const toFix = placed.filter((o) => o.demo.fixAndReplay);
  for (const order of toFix) {
    await api.patch(`/orders/${order.id}/payment-method`, { cardToken: 'tok_ok' });
    printer.client(`${order.demo.label} ${order.demo.customer}`, 'PATCH /orders/:id/payment-method → the customer fixed the card');
  }
  const replay = await api.post<{ replayed: number; kept: number }>(`/admin/dead-letters/${encodeURIComponent(dlq)}/replay`, {
    orderIds: toFix.map((o) => o.id),
  });
  printer.note(`POST /admin/dead-letters/${dlq}/replay (only the fixed orders) → replayed ${replay.body.replayed}, kept ${replay.body.kept}`);
  return replay.body;
}

/** The orders of the list not yet paid and shipped, each with its state and last step (empty when all are). */
async function notYetPaid(api: ApiClient, ids: string[]): Promise<string[]> {
  const lagging: string[] = [];
  for (const id of ids) {
    const { body } = await api.get<Order & { timeline: TimelineEntry[] }>(`/orders/${id}`);
    if (body.state !== 'paid' || !body.timeline.some((e) => e.event.includes('shipment'))) lagging.push(`${id.slice(0, 8)} ${describeOrder(body)}`);
  }
  return lagging;
}

/** The orders not yet in their final state (before or after the dead-letter phase) or whose reminder has not gone out. */
async function unsettled(api: ApiClient, placed: PlacedOrder[], afterReplay = false): Promise<string[]> {
  const lagging: string[] = [];
  for (const order of placed) {
    const { body } = await api.get<Order & { timeline: TimelineEntry[] }>(`/orders/${order.id}`);
    const expected = !afterReplay && order.demo.fixAndReplay ? 'payment_failed' : order.demo.expect;
    const waitsForReminder = !afterReplay && expected === 'payment_failed' && !body.timeline.some((e) => e.event.startsWith('email: reminder'));
    const waitsForShipment = expected === 'paid' && !body.timeline.some((e) => e.event.includes('shipment'));
    if (body.state !== expected || waitsForReminder || waitsForShipment) {
      lagging.push(
        `${order.demo.label} ${order.demo.customer}: expected ${expected}${waitsForReminder ? ' and its reminder' : ''}${waitsForShipment ? ' and shipped' : ''}; ${describeOrder(body)}`,
      );
    }
  }
  return lagging;
}

function describeOrder(order: Order & { timeline: TimelineEntry[] }): string {
  const last = order.timeline.at(-1);
  return `is ${order.state}${last ? `, last step '${last.event}' (${last.service})` : ''}`;
}

/** A check for waitUntil that keeps what was still missing at its last poll, for the timeout message. */
function until(missing: () => Promise<string[]>): { check: () => Promise<boolean>; missing: () => string } {
  let last: string[] = [];
  let failed: string | undefined;
  return {
    check: async () => {
      try {
        last = await missing();
        failed = undefined;
      } catch (error) {
        failed = (error as Error).message;
        throw error;
      }
      return last.length === 0;
    },
    missing: () => {
      if (failed !== undefined) return `; the last check failed: ${failed}`;
      if (last.length === 0) return '';
      return `; still missing:\n  ${last.slice(0, 12).join('\n  ')}${last.length > 12 ? `\n  ... and ${last.length - 12} more` : ''}`;
    },
  };
}

async function printSummary(
  api: ApiClient,
  printer: TimelinePrinter,
  placed: PlacedOrder[],
  replay: { replayed: number; kept: number },
  startedAt: number,
  cluster?: ClusterRun & { partitions: number; check: OrderCheck },
): Promise<boolean> {
  const summary = (await api.get<SystemSummary>('/admin/summary')).body;
  const rows: string[][] = [];
  let allAsExpected = true;
  for (const order of placed) {
    const { body } = await api.get<Order & { timeline: TimelineEntry[] }>(`/orders/${order.id}`);
    const ok = body.state === order.demo.expect && TERMINAL_STATES.includes(body.state);
    allAsExpected &&= ok;
    const state = ok ? style.green(body.state) : style.red(`${body.state} (expected ${order.demo.expect})`);
    rows.push([order.demo.label, order.demo.customer, order.demo.story, order.statuses.join(','), state, pathOf(body.timeline)]);
  }
  console.log(style.bold('\nWhat each order went through'));
  console.log(renderTable(['Order', 'Customer', 'Scenario', 'HTTP', 'Final state', 'Path'], rows, style));

  const charge = summary.handlers['payments.charge'] ?? { handled: 0, failed: 0, retried: 0, deadLettered: 0, duplicates: 0 };
  const events = summary.handlers['notifications.order-events'];
  const repeatedPosts = placed.reduce((sum, o) => sum + o.statuses.filter((s) => s === 200).length, 0);
  const byState = Object.entries(summary.orders.byState)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${state} ${n}`)
    .join(' · ');
  const postCount = placed.reduce((sum, o) => sum + o.statuses.length, 0);
  const dlqLeft = Object.values(summary.deadLetters).reduce((a, b) => a + b, 0);
  const checks: Array<[string, boolean]> = [
    ['every order ended in its expected state', allAsExpected],
    ['no order charged twice', summary.payments.chargedTwice === 0 && summary.payments.charges === summary.orders.byState.paid],
    ['repeated POSTs created no order and no event', summary.orders.total === placed.length + (cluster?.loadOrderIds.length ?? 0)],
    ['the dead-letter queue holds exactly the unfixed declines', dlqLeft === placed.filter((o) => o.demo.expect === 'payment_failed').length],
    ['0 orders without their event (each order committed with its order.created, each payment with its order.paid)', summary.outbox.ordersWithoutEvent === 0],
  ];
  let lost = 0;
  if (cluster) {
    for (const id of cluster.loadOrderIds) {
      const { body } = await api.get<Order>(`/orders/${id}`);
      if (body.state !== 'paid') lost++;
    }
    checks.push(
      [`0 lost: every one of the ${cluster.loadOrderIds.length} orders placed around the kills was paid`, lost === 0],
      [`orders processed in order per order id: ${cluster.check.outOfOrderPairs} out-of-order pairs`, cluster.check.outOfOrderPairs === 0],
      [
        'payments failed over before the killed node had rejoined',
        cluster.check.failoverMs !== undefined && cluster.nodeKilledAt + cluster.check.failoverMs < cluster.nodeBackAt,
      ],
    );
  }
  const ms = (value: number | undefined): string => (value === undefined ? '-' : `${value.toFixed(1)} ms`);
  console.log(style.bold('\nSummary'));
  console.log(
    renderTable(
      ['', ''],
      [
        [
          'Orders by state',
          `${byState}   (${summary.orders.total} orders from ${postCount} POSTs${cluster ? ` + ${cluster.loadOrderIds.length} in the cluster run` : ''})`,
        ],
        [
          'Payments',
          `${summary.payments.charges} charges, ${summary.payments.chargedTwice} orders charged twice, ${charge.handled} handled by ${summary.services.filter((s) => s.service === 'payments').length} ${cluster ? 'partitioned workers still running' : 'competing workers'}`,
        ],
        ['Retries', `${charge.retried} delayed retries of payments.charge (exponential backoff on the broker)`],
        [
          'Dead letters',
          `${charge.deadLettered} dead-lettered with their reason · ${replay.replayed} replayed after the card was fixed · ${dlqLeft} still in the DLQ`,
        ],
        [
          'Duplicates absorbed',
          `${repeatedPosts} repeated POSTs (same order back, nothing published) · ${charge.duplicates} redelivered order.created dropped by dedup (payments) · ${events?.duplicates ?? 0} (notifications)`,
        ],
        [
          'Outbox',
          `${summary.outbox.published} events published through the outbox (${summary.outbox.pending} pending) · relay latency p50 ${ms(summary.outbox.latencyP50Ms)}, p99 ${ms(summary.outbox.latencyP99Ms)} (commit → confirm) · ${summary.outbox.ordersWithoutEvent} orders without their event`,
        ],
        [
          'Notifications',
          Object.entries(summary.notifications)
            .map(([kind, n]) => `${kind} ${n}`)
            .join(' · '),
        ],
        ...(cluster
          ? [
              [
                'Cluster',
                `3 nodes, quorum queues; ${PAYMENT_WORKERS} payments workers on ${cluster.partitions} partitions keyed by order id · killed node ${cluster.killedNode} (leader of ${cluster.killedQueue}) at +${((cluster.nodeKilledAt - startedAt) / 1000).toFixed(1)} s (rejoined at +${((cluster.nodeBackAt - startedAt) / 1000).toFixed(1)} s), and ${cluster.killedWorker}`,
              ],
              [
                'Cluster run',
                `${cluster.loadOrderIds.length} more orders around the kills: ${cluster.loadOrderIds.length - lost} paid, ${lost} lost, ${summary.payments.chargedTwice} charged twice`,
              ],
              [
                'Order per order id',
                `${cluster.check.runs} payment runs of ${cluster.check.orders} orders · ${cluster.check.outOfOrderPairs} out-of-order pairs (two runs of one order at once, or a failure after its payment)`,
              ],
              [
                'Failover',
                cluster.check.failoverMs === undefined
                  ? 'no payment of the killed partition after the kill'
                  : `${(cluster.check.failoverMs / 1000).toFixed(2)} s from the node kill to the next payment of its partition`,
              ],
            ]
          : []),
        ['Elapsed', `${((Date.now() - startedAt) / 1000).toFixed(1)} s`],
      ],
      style,
    ),
  );
  console.log('');
  for (const [text, ok] of checks) console.log(`  ${ok ? style.green('✓') : style.red('✗')} ${text}`);
  console.log('');
  const samplePort = process.env.ORDERS_PORT ?? process.env.PORT ?? '3000';
  console.log(`Dashboard: http://localhost:${samplePort}${DASHBOARD_PATH}  (handlers, queues, dead letters with replay, connections)`);
  console.log(style.dim(`  served by the orders service: the demo stops its services now; run npm run start:sample and open it there.`));
  return checks.every(([, ok]) => ok);
}

/** A one-line story of an order from its timeline. */
function pathOf(timeline: TimelineEntry[]): string {
  const steps: string[] = [];
  const has = (text: string): boolean => timeline.some((e) => e.event.startsWith(text));
  const count = (text: string): number => timeline.filter((e) => e.event.startsWith(text)).length;
  if (count('repeated POST') > 0) steps.push(`${count('repeated POST')} repeated POST(s) absorbed`);
  if (has('rejected')) return [...steps, 'rejected (out of stock)'].join(' → ');
  steps.push('stock reserved');
  if (count('payment attempt') > 0) steps.push(`gateway failed ×${count('payment attempt')}, retried`);
  if (has('payment failed')) steps.push('declined → DLQ');
  if (has('email: reminder')) steps.push('reminder (TTL queue)');
  if (has('payment method updated')) steps.push('card fixed → replayed');
  if (has('paid')) steps.push('paid');
  if (has('order.created published again')) steps.push('redelivery dropped');
  const shipment = timeline.find((e) => e.event.includes('shipment'));
  if (shipment) steps.push(shipment.event.startsWith('express') ? `shipped express (${shipment.detail})` : 'shipped');
  return steps.join(' → ');
}

async function handlerStats(api: ApiClient): Promise<SystemSummary['handlers']> {
  return (await api.get<SystemSummary>('/admin/summary')).body.handlers;
}

async function waitForServices(api: ApiClient, failure: () => string | undefined, logDir: string): Promise<void> {
  const expected = ['inventory', 'notifications', ...Array<string>(PAYMENT_WORKERS).fill('payments')];
  await waitUntil(
    async () => {
      const health = await api.get<{ status: string; services: Array<Pick<ServiceReport, 'service'>> }>('/health').catch(() => undefined);
      if (health?.status !== 200) return false;
      const running = health.body.services.map((s) => s.service);
      return expected.every((service) => running.filter((s) => s === service).length >= expected.filter((e) => e === service).length);
    },
    `the services to start (logs: ${relative(process.cwd(), logDir)}/)`,
    45_000,
    failure,
  );
}

async function waitUntil(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs: number,
  failure: () => string | undefined = () => undefined,
  missing: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failed = failure();
    if (failed) throw new Error(failed);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${missing()}`);
    await sleep(200);
  }
}

async function stop(sample: SampleProcesses): Promise<void> {
  process.stdout.write(style.dim('Stopping the services... '));
  await sample.stop();
  console.log(style.dim('done.'));
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  console.error('\nInterrupted: stopping (Ctrl-C again to quit at once)...');
  // The services are in their own process groups and stop when this process exits (IPC disconnect).
  setTimeout(() => process.exit(130), 200);
});

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
