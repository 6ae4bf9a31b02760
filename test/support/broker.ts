import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as path from 'node:path';
import * as amqplib from 'amqplib';

/** The broker every end-to-end test talks to. */
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A name no other test (or earlier run) uses. */
export function uniqueName(prefix: string): string {
  return `test.${prefix}.${Date.now().toString(36)}.${randomBytes(3).toString('hex')}`;
}

/** What `waitFor` resolves with: the check's value, which is truthy by then. */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000, intervalMs = 20): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Truthy<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The major version of the broker at AMQP_URL (3 or 4), from its connection properties. */
export async function brokerMajorVersion(): Promise<number> {
  const connection = await amqplib.connect(AMQP_URL);
  try {
    return Number(String(connection.connection.serverProperties.version).split('.')[0]);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** A raw amqplib connection for arranging and inspecting broker state independently of the library. */
export class BrokerAdmin {
  private constructor(
    private readonly connection: amqplib.ChannelModel,
    private readonly channel: amqplib.Channel,
  ) {}

  static async connect(): Promise<BrokerAdmin> {
    const connection = await amqplib.connect(AMQP_URL);
    const channel = await connection.createChannel();
    return new BrokerAdmin(connection, channel);
  }

  private readonly queues = new Set<string>();
  private readonly exchanges = new Set<string>();

  /** Remembers names to delete in `cleanup()`. */
  track(kind: 'queue' | 'exchange', ...names: string[]): void {
    for (const name of names) (kind === 'queue' ? this.queues : this.exchanges).add(name);
  }

  async raw<R>(fn: (channel: amqplib.Channel) => Promise<R>): Promise<R> {
    const channel = await this.connection.createChannel();
    channel.on('error', () => undefined);
    try {
      return await fn(channel);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** Message count of a queue, or undefined if it does not exist. */
  async messageCount(queue: string): Promise<number | undefined> {
    return this.raw(async (ch) => (await ch.checkQueue(queue)).messageCount).catch(() => undefined);
  }

  async consumerCount(queue: string): Promise<number | undefined> {
    return this.raw(async (ch) => (await ch.checkQueue(queue)).consumerCount).catch(() => undefined);
  }

  async queueExists(queue: string): Promise<boolean> {
    return (await this.messageCount(queue)) !== undefined;
  }

  /** Takes one message off a queue (acked), or false. */
  async get(queue: string): Promise<amqplib.GetMessage | false> {
    return this.raw(async (ch) => {
      const message = await ch.get(queue, { noAck: true });
      return message;
    });
  }

  /** Publishes a raw body with amqplib (no library involved). */
  async publishRaw(exchange: string, routingKey: string, body: Buffer | string, options: amqplib.Options.Publish = {}): Promise<void> {
    await this.raw(async (ch) => {
      ch.publish(exchange, routingKey, Buffer.isBuffer(body) ? body : Buffer.from(body), options);
    });
  }

  async cleanup(): Promise<void> {
    for (const queue of this.queues) await this.raw((ch) => ch.deleteQueue(queue)).catch(() => undefined);
    for (const exchange of this.exchanges) await this.raw((ch) => ch.deleteExchange(exchange)).catch(() => undefined);
    this.queues.clear();
    this.exchanges.clear();
  }

  async close(): Promise<void> {
    await this.cleanup();
    await this.connection.close().catch(() => undefined);
  }
}

const run = promisify(execFile);

/** Port of the RabbitMQ 4 node that scripts/rabbitmq4.sh runs beside the default broker. */
const RABBITMQ4_PORT = process.env.R4_PORT ?? '5692';

/**
 * The rabbitmqctl command that manages the broker at AMQP_URL, as argv. RABBITMQCTL overrides it
 * (a command line split on spaces, e.g. `bash scripts/rabbitmq4.sh ctl`); otherwise a URL on the
 * RabbitMQ 4 node's port gets that node's script, and any other URL the rabbitmqctl on the PATH,
 * which reaches the default node. Listing the wrong node would make checks pass on an empty list.
 */
export function rabbitmqctlCommand(env: NodeJS.ProcessEnv = process.env, url = AMQP_URL): string[] {
  const configured = env.RABBITMQCTL?.trim();
  if (configured) return configured.split(/\s+/);
  if (new URL(url).port === RABBITMQ4_PORT) return ['bash', path.join(__dirname, '..', '..', 'scripts', 'rabbitmq4.sh'), 'ctl'];
  return ['rabbitmqctl'];
}

/** rabbitmqctl against the broker under test, for inspection and fault injection (closing connections). */
export async function rabbitmqctl(...args: string[]): Promise<string> {
  const [command, ...prefix] = rabbitmqctlCommand();
  const { stdout } = await run(command, [...prefix, ...args], { timeout: 30_000 });
  return stdout;
}

/**
 * The broker's own clock (ms since the epoch), read on the broker under test. A stream's chunk
 * timestamps come from this clock, not the test process's, and the two may differ by seconds
 * (a stepped system clock is corrected gradually by the broker's VM).
 */
export async function brokerNow(): Promise<number> {
  const out = await rabbitmqctl('eval', 'erlang:system_time(millisecond).');
  const now = Number(out.trim().split('\n').pop());
  if (!Number.isSafeInteger(now)) throw new Error(`rabbitmqctl eval printed no time: ${out}`);
  return now;
}

/** Channels the broker counts on each connection whose client-provided name is `connectionName`. */
export async function channelsOfConnectionsNamed(connectionName: string): Promise<number[]> {
  const out = await rabbitmqctl('list_connections', '-q', '--no-table-headers', 'channels', 'client_properties');
  return out
    .split('\n')
    .filter((line) => line.includes(`"${connectionName}"`))
    .map((line) => Number(line.split('\t')[0].trim()));
}

/** Closes every broker-side connection whose client-provided name is `connectionName`. */
export async function closeConnectionsNamed(connectionName: string): Promise<number> {
  const out = await rabbitmqctl('list_connections', '-q', '--no-table-headers', 'pid', 'client_properties');
  let closed = 0;
  for (const line of out.split('\n')) {
    if (!line.includes(`"${connectionName}"`)) continue;
    const pid = line.split('\t')[0].trim();
    if (!pid) continue;
    await rabbitmqctl('close_connection', pid, 'closed by test').catch(() => undefined);
    closed++;
  }
  return closed;
}
