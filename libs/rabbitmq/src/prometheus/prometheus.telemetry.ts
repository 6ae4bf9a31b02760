import { Counter, Gauge, Histogram, register as defaultRegistry, type Registry } from 'prom-client';
import type { AmqpConnection } from '../facade/amqp-connection';
import type {
  CallOutcome,
  ConsumeInfo,
  ConsumeOutcome,
  OutboxBacklogInfo,
  OutboxRelayedInfo,
  PublishInfo,
  RequestInfo,
  WarrenTelemetry,
} from '../options/telemetry.interface';

export interface PrometheusTelemetryOptions {
  /** @default prom-client's default registry */
  registry?: Registry;
  /** @default 'warren_' */
  prefix?: string;
  /** Histogram buckets in seconds. @default 0.001 … 10 */
  buckets?: number[];
}

const DEFAULT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Prometheus metrics through prom-client (an optional peer dependency):
 * - `warren_messages_published_total{connection,exchange,outcome}` (outcome: ok, UNROUTABLE, PUBLISH_NACKED, PUBLISH_TIMEOUT, ...)
 * - `warren_messages_consumed_total{connection,queue,handler,outcome}` (acked, retried, dead-lettered, duplicate, rejected, requeued, dropped, replied-error)
 * - `warren_handler_duration_seconds{connection,queue,handler,outcome}`
 * - `warren_rpc_duration_seconds{connection,routing_key,outcome}`
 * - `warren_connection_up{connection}` (1 while connected, blocked or not)
 * - `warren_connection_blocked{connection}` (1 while the broker blocks publishing: a memory or disk alarm)
 * - `warren_outbox_backlog_messages{table,status}` (pending, parked, failed rows of the outbox)
 * - `warren_outbox_oldest_pending_age_seconds{table}` (age of the oldest row not yet published)
 * - `warren_outbox_relay_latency_seconds{table}` (from the row's write in the committed transaction to the broker's confirm)
 * - `warren_outbox_relayed_total{table,outcome}` (sent, parked, failed, retry)
 */
export class PrometheusTelemetry implements WarrenTelemetry {
  readonly registry: Registry;
  private readonly published: Counter<string>;
  private readonly consumed: Counter<string>;
  private readonly handlerDuration: Histogram<string>;
  private readonly rpcDuration: Histogram<string>;
  private readonly connectionUp: Gauge<string>;
  private readonly connectionBlocked: Gauge<string>;
  private readonly outboxBacklog: Gauge<string>;
  private readonly outboxAge: Gauge<string>;
  private readonly outboxLatency: Histogram<string>;
  private readonly outboxRelayed: Counter<string>;

  constructor(options: PrometheusTelemetryOptions = {}) {
    this.registry = options.registry ?? defaultRegistry;
    const prefix = options.prefix ?? 'warren_';
    const buckets = options.buckets ?? DEFAULT_BUCKETS;
    const registers = [this.registry];
    this.published = new Counter({
      name: `${prefix}messages_published_total`,
      help: 'Messages published, by outcome',
      labelNames: ['connection', 'exchange', 'outcome'],
      registers,
    });
    this.consumed = new Counter({
      name: `${prefix}messages_consumed_total`,
      help: 'Deliveries settled, by outcome',
      labelNames: ['connection', 'queue', 'handler', 'outcome'],
      registers,
    });
    this.handlerDuration = new Histogram({
      name: `${prefix}handler_duration_seconds`,
      help: 'Time from delivery to settlement',
      labelNames: ['connection', 'queue', 'handler', 'outcome'],
      buckets,
      registers,
    });
    this.rpcDuration = new Histogram({
      name: `${prefix}rpc_duration_seconds`,
      help: 'Request/reply latency seen by the caller',
      labelNames: ['connection', 'routing_key', 'outcome'],
      buckets,
      registers,
    });
    this.connectionUp = new Gauge({
      name: `${prefix}connection_up`,
      help: '1 while the connection is up (blocked or not)',
      labelNames: ['connection'],
      registers,
    });
    this.connectionBlocked = new Gauge({
      name: `${prefix}connection_blocked`,
      help: '1 while the broker blocks publishing on the connection (memory or disk alarm)',
      labelNames: ['connection'],
      registers,
    });
    this.outboxBacklog = new Gauge({
      name: `${prefix}outbox_backlog_messages`,
      help: 'Rows of the transactional outbox not sent, by status (pending, parked, failed)',
      labelNames: ['table', 'status'],
      registers,
    });
    this.outboxAge = new Gauge({
      name: `${prefix}outbox_oldest_pending_age_seconds`,
      help: 'Age of the oldest outbox row waiting to be published (0 when none waits)',
      labelNames: ['table'],
      registers,
    });
    this.outboxLatency = new Histogram({
      name: `${prefix}outbox_relay_latency_seconds`,
      help: "Time from an outbox row's write (in the committed transaction) to the broker's confirm",
      labelNames: ['table'],
      buckets,
      registers,
    });
    this.outboxRelayed = new Counter({
      name: `${prefix}outbox_relayed_total`,
      help: 'Outbox rows handled by the relay, by outcome (sent, parked, failed, retry)',
      labelNames: ['table', 'outcome'],
      registers,
    });
  }

  onOutboxBacklog(info: OutboxBacklogInfo): void {
    this.outboxBacklog.set({ table: info.table, status: 'pending' }, info.pending);
    this.outboxBacklog.set({ table: info.table, status: 'parked' }, info.parked);
    this.outboxBacklog.set({ table: info.table, status: 'failed' }, info.failed);
    this.outboxAge.set({ table: info.table }, info.oldestPendingAgeMs / 1000);
  }

  onOutboxRelayed(info: OutboxRelayedInfo): void {
    this.outboxRelayed.inc({ table: info.table, outcome: info.outcome });
    if (info.latencyMs !== undefined) this.outboxLatency.observe({ table: info.table }, info.latencyMs / 1000);
  }

  onPublish(info: PublishInfo): (outcome: CallOutcome) => void {
    return (outcome) => this.published.inc({ connection: info.connection, exchange: info.exchange, outcome });
  }

  onRequest(info: RequestInfo): (outcome: CallOutcome) => void {
    const started = process.hrtime.bigint();
    return (outcome) => this.rpcDuration.observe({ connection: info.connection, routing_key: info.routingKey, outcome }, seconds(started));
  }

  async onConsume(info: ConsumeInfo, next: () => Promise<ConsumeOutcome>): Promise<ConsumeOutcome> {
    const started = process.hrtime.bigint();
    const outcome = await next();
    const labels = { connection: info.connection, queue: info.queue, handler: info.handler ?? '', outcome };
    this.consumed.inc(labels);
    this.handlerDuration.observe(labels, seconds(started));
    return outcome;
  }

  onConnectionStatus(connection: string, status: string): void {
    // A blocked connection is up (deliveries still arrive); its publishes are what stops.
    this.connectionUp.set({ connection }, status === 'connected' || status === 'blocked' ? 1 : 0);
    this.connectionBlocked.set({ connection }, status === 'blocked' ? 1 : 0);
  }
}

/**
 * Queue depth and consumer count gauges read from the broker at scrape time
 * (a passive declare per queue, so no management plugin is needed):
 * `warren_queue_messages{queue}` and `warren_queue_consumers{queue}`.
 */
export function registerQueueMetrics(connection: AmqpConnection, queues: string[], options: { registry?: Registry; prefix?: string } = {}): void {
  const registry = options.registry ?? defaultRegistry;
  const prefix = options.prefix ?? 'warren_';
  let last: Promise<Map<string, { messages: number; consumers: number }>> | undefined;
  const read = (): Promise<Map<string, { messages: number; consumers: number }>> =>
    (last ??= (async () => {
      const found = new Map<string, { messages: number; consumers: number }>();
      // A blocked connection answers no channel operation until the alarm clears: skip, do not hang the scrape.
      if (connection.status !== 'connected') return found;
      for (const queue of queues) {
        await connection
          .withChannel(async (channel) => {
            const reply = await channel.checkQueue(queue);
            found.set(queue, { messages: reply.messageCount, consumers: reply.consumerCount });
          })
          .catch(() => undefined);
      }
      return found;
    })().finally(() => setTimeout(() => (last = undefined), 0)));
  new Gauge({
    name: `${prefix}queue_messages`,
    help: 'Messages ready in the queue (passive declare at scrape time)',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      for (const [queue, value] of await read()) this.set({ queue }, value.messages);
    },
  });
  new Gauge({
    name: `${prefix}queue_consumers`,
    help: 'Consumers of the queue (passive declare at scrape time)',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      for (const [queue, value] of await read()) this.set({ queue }, value.consumers);
    },
  });
}

function seconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}
