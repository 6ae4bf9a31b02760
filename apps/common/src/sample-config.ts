import { hostname } from 'node:os';

/** Queue type of the sample's durable queues: classic on one broker, quorum (replicated) on a cluster. */
export type SampleQueueType = 'classic' | 'quorum';

/** Delayed-retry settings of the payments worker (exponential backoff). */
export interface PaymentRetryConfig {
  /** Deliveries in total, the first included. */
  maxAttempts: number;
  /** ms before the first retry; doubles after each failure. */
  initialDelayMs: number;
  /** Upper bound of a delay, ms. */
  maxDelayMs: number;
  /** Spread of delays (0..1) so failures that happened together do not retry together. */
  jitter: number;
}

/**
 * Everything the sample services read from the environment, in one object, so
 * tests and the demo can build it directly instead of mutating `process.env`.
 */
export interface SampleConfig {
  /** One broker URL, or several (a cluster): each service connects to the first that answers. */
  amqpUrls: string[];
  redisUrl: string;
  /** PostgreSQL of the orders service: its orders and their outbox (a schema per namespace). */
  databaseUrl: string;
  /**
   * Prefix of every exchange, queue and Redis key of this deployment ('' in production).
   * Tests and the demo use a unique one per run so they never see each other's messages.
   */
  namespace: string;
  queueType: SampleQueueType;
  /** The HTTP port of the orders API (0 = any free port). */
  ordersPort: number;
  /** Names this process in logs, the broker's connection list and the service registry. */
  instanceId: string;
  /** ms orders waits for inventory's reply. */
  inventoryTimeoutMs: number;
  paymentRetry: PaymentRetryConfig;
  /**
   * Partitions of the payments queue (0 = one queue, competing workers). With N > 0 the payments
   * handler consumes N single-active-consumer queues keyed by order id, so one order's messages are
   * handled one at a time, in order, whichever worker holds its partition.
   */
  paymentPartitions: number;
  /** ms a payment reminder waits in the TTL queue before it is sent. */
  reminderDelayMs: number;
  /** ms the (simulated) warehouse spends per shipment; makes the priority queue visible. */
  shippingWorkMs: number;
  /** Unacked messages per consumer. */
  prefetch: number;
  /** ms between two heartbeats a service writes to Redis (stats, connection status). */
  heartbeatMs: number;
  /** Nest log levels printed: LOG_LEVEL=debug adds one line per message. */
  logLevels: LogLevel[];
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'log' | 'debug' | 'verbose';

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

type Env = Record<string, string | undefined>;

/** The defaults: a local broker and Redis, production names, second-scale delays. */
export const DEFAULT_SAMPLE_CONFIG: SampleConfig = {
  amqpUrls: ['amqp://guest:guest@127.0.0.1:5672'],
  redisUrl: 'redis://127.0.0.1:6379',
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
  namespace: '',
  queueType: 'classic',
  ordersPort: 3000,
  instanceId: `${hostname()}-${process.pid}`,
  inventoryTimeoutMs: 5000,
  paymentRetry: { maxAttempts: 4, initialDelayMs: 1000, maxDelayMs: 30_000, jitter: 0.2 },
  paymentPartitions: 0,
  reminderDelayMs: 10_000,
  shippingWorkMs: 20,
  prefetch: 20,
  heartbeatMs: 1000,
  logLevels: ['fatal', 'error', 'warn', 'log'],
};

/**
 * Reads the sample's settings from environment variables:
 * AMQP_URL (comma-separated for a cluster), REDIS_URL, DATABASE_URL, SAMPLE_NAMESPACE, QUEUE_TYPE,
 * PORT / ORDERS_PORT, INSTANCE_ID, INVENTORY_TIMEOUT_MS, PAYMENT_MAX_ATTEMPTS,
 * PAYMENT_RETRY_DELAY_MS, PAYMENT_RETRY_MAX_DELAY_MS, PAYMENT_RETRY_JITTER, PAYMENT_PARTITIONS,
 * REMINDER_DELAY_MS, SHIPPING_WORK_MS, PREFETCH, HEARTBEAT_MS, LOG_LEVEL (error|warn|log|debug|verbose).
 * Every problem is reported at once.
 */
export function loadSampleConfig(env: Env = process.env, overrides: Partial<SampleConfig> = {}): SampleConfig {
  const problems: string[] = [];
  const d = DEFAULT_SAMPLE_CONFIG;
  const int = (name: string, fallback: number, min = 0): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) {
      problems.push(`${name} must be an integer >= ${min} (got '${raw}')`);
      return fallback;
    }
    return value;
  };
  const amqpUrls = (env.AMQP_URL ?? '')
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
  for (const url of amqpUrls) {
    if (!/^amqps?:\/\//.test(url)) problems.push(`AMQP_URL entries must start with amqp:// or amqps:// (got '${maskUrl(url)}')`);
  }
  const queueType = env.QUEUE_TYPE ?? d.queueType;
  if (queueType !== 'classic' && queueType !== 'quorum') problems.push(`QUEUE_TYPE must be 'classic' or 'quorum' (got '${queueType}')`);
  const jitter = env.PAYMENT_RETRY_JITTER === undefined ? d.paymentRetry.jitter : Number(env.PAYMENT_RETRY_JITTER);
  if (!(jitter >= 0 && jitter <= 1)) problems.push(`PAYMENT_RETRY_JITTER must be between 0 and 1 (got '${env.PAYMENT_RETRY_JITTER}')`);
  const logLevel = (env.LOG_LEVEL ?? 'log') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got '${env.LOG_LEVEL}')`);
  const databaseUrl = env.DATABASE_URL || d.databaseUrl;
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) problems.push(`DATABASE_URL must start with postgres:// or postgresql:// (got '${maskUrl(databaseUrl)}')`);
  const partitionsRaw = env.PAYMENT_PARTITIONS;
  const paymentPartitions = partitionsRaw === undefined || partitionsRaw === '' ? d.paymentPartitions : Number(partitionsRaw);
  if (!(Number.isInteger(paymentPartitions) && paymentPartitions >= 0 && paymentPartitions <= 64)) {
    problems.push(`PAYMENT_PARTITIONS must be an integer from 0 to 64 (got '${partitionsRaw}')`);
  }
  const namespace = env.SAMPLE_NAMESPACE ?? d.namespace;
  if (!/^[A-Za-z0-9._-]*$/.test(namespace)) problems.push(`SAMPLE_NAMESPACE may only hold letters, digits, '.', '_' and '-' (got '${namespace}')`);

  const config: SampleConfig = {
    amqpUrls: amqpUrls.length > 0 ? amqpUrls : d.amqpUrls,
    redisUrl: env.REDIS_URL || d.redisUrl,
    databaseUrl,
    namespace,
    queueType: queueType as SampleQueueType,
    ordersPort: int('ORDERS_PORT', int('PORT', d.ordersPort)),
    instanceId: env.INSTANCE_ID || d.instanceId,
    inventoryTimeoutMs: int('INVENTORY_TIMEOUT_MS', d.inventoryTimeoutMs, 1),
    paymentRetry: {
      maxAttempts: int('PAYMENT_MAX_ATTEMPTS', d.paymentRetry.maxAttempts, 1),
      initialDelayMs: int('PAYMENT_RETRY_DELAY_MS', d.paymentRetry.initialDelayMs),
      maxDelayMs: int('PAYMENT_RETRY_MAX_DELAY_MS', d.paymentRetry.maxDelayMs),
      jitter,
    },
    paymentPartitions,
    reminderDelayMs: int('REMINDER_DELAY_MS', d.reminderDelayMs, 1),
    shippingWorkMs: int('SHIPPING_WORK_MS', d.shippingWorkMs),
    prefetch: int('PREFETCH', d.prefetch, 1),
    heartbeatMs: int('HEARTBEAT_MS', d.heartbeatMs, 100),
    logLevels: LOG_LEVELS.slice(0, Math.max(1, LOG_LEVELS.indexOf(logLevel) + 1)),
    ...overrides,
  };
  if (problems.length > 0) {
    throw new Error(`Invalid sample configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return config;
}

/** Hides the password of a URL for logs. */
export function maskUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
