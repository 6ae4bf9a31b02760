import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { DedupStoreUnavailableError, type DedupStoreOperation } from '../errors/dedup-store-unavailable.error';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type { DedupClaim, DedupStore } from '../options/dedup-store.interface';

/** Options of `RedisDedupStore`: give `client` or `url`, not both. */
export interface RedisDedupStoreOptions {
  /**
   * An ioredis client to use. The store neither configures nor closes it; give it
   * `enableOfflineQueue: false` and a `commandTimeout` if calls should fail fast while Redis is down.
   */
  client?: Redis;
  /**
   * A Redis URL (`redis://user:pass@host:6379/0`, `rediss://` for TLS). The store creates
   * the client, configured to fail calls fast while Redis is down and to keep reconnecting
   * in the background, and closes it in `close()`.
   */
  url?: string;
  /**
   * Prepended to every key, to share a Redis database with other data.
   * @default 'warren:dedup:'
   */
  keyPrefix?: string;
  /**
   * ms a call waits for the connection being set up; with `url`, also the connect and
   * command timeouts of the client.
   * @default 5000
   */
  timeout?: number;
  /** With `url`: further ioredis options, applied over the store's own. */
  redisOptions?: RedisOptions;
}

/** The value of a completed key; a claimed key holds `p:<token>`. */
const DONE = 'done';

/** Marks the key done if `token` still owns it, or if nobody holds it (the work did succeed). */
const COMPLETE_SCRIPT = `
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] or value == false then
  redis.call('SET', KEYS[1], '${DONE}', 'PX', ARGV[2])
  return 1
end
return 0`;

/** Deletes the key only if `token` still owns it. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/** SET NX then GET can race with the key expiring in between; a few rounds settle it. */
const CLAIM_ROUNDS = 3;

/**
 * A `DedupStore` in Redis, shared by every process that consumes a queue. A claim is
 * `SET key p:<token> PX lease NX`; `complete` and `release` are Lua scripts that compare
 * the token first, so a claim whose lease ended and was taken over is never overwritten.
 *
 * Import it from `@warren/rabbitmq/redis` (ioredis is only loaded there). Redis errors
 * surface as `DedupStoreUnavailableError`.
 *
 * @example
 * RabbitMQModule.forRoot({ uri, defaultDedup: { store: new RedisDedupStore({ url: process.env.REDIS_URL }) } })
 */
export class RedisDedupStore implements DedupStore {
  /** The ioredis client in use (owned or given). */
  readonly client: Redis;
  private readonly keyPrefix: string;
  private readonly timeout: number;
  private readonly ownsClient: boolean;
  private closing = false;
  private readyWait?: Promise<void>;

  constructor(options: RedisDedupStoreOptions) {
    const problems: string[] = [];
    if ((options.client === undefined) === (options.url === undefined)) {
      problems.push('RedisDedupStore: give exactly one of client (an ioredis instance) or url');
    }
    const timeout = options.timeout ?? 5000;
    if (!(Number.isFinite(timeout) && timeout > 0)) {
      problems.push(`RedisDedupStore: timeout must be a number of ms > 0 (got ${timeout})`);
    }
    if (problems.length > 0) throw new InvalidOptionsError(problems);

    this.keyPrefix = options.keyPrefix ?? 'warren:dedup:';
    this.timeout = timeout;
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? RedisDedupStore.createClient(options.url as string, timeout, options.redisOptions);
  }

  /** A client that fails commands at once while disconnected instead of queueing them, and keeps reconnecting. */
  private static createClient(url: string, timeout: number, redisOptions?: RedisOptions): Redis {
    const client = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: timeout,
      commandTimeout: timeout,
      retryStrategy: (times) => Math.min(times * 200, 2000),
      ...redisOptions,
    });
    // Without a listener ioredis prints every failed reconnect; callers see failures as DedupStoreUnavailableError.
    client.on('error', () => undefined);
    return client;
  }

  async claim(key: string, leaseMs: number): Promise<DedupClaim> {
    const fullKey = this.keyPrefix + key;
    return this.run('claim', fullKey, async () => {
      const lease = wholeMs(leaseMs);
      for (let round = 0; round < CLAIM_ROUNDS; round++) {
        const token = randomUUID();
        if ((await this.client.set(fullKey, `p:${token}`, 'PX', lease, 'NX')) === 'OK') {
          return { status: 'claimed', token };
        }
        const value = await this.client.get(fullKey);
        if (value === DONE) return { status: 'duplicate' };
        if (value !== null) return { status: 'in-progress' };
        // The key expired between SET and GET: try to claim it again.
      }
      return { status: 'in-progress' };
    });
  }

  async complete(key: string, token: string, ttlMs: number): Promise<void> {
    const fullKey = this.keyPrefix + key;
    await this.run('complete', fullKey, () => this.client.eval(COMPLETE_SCRIPT, 1, fullKey, `p:${token}`, wholeMs(ttlMs)));
  }

  async release(key: string, token: string): Promise<void> {
    const fullKey = this.keyPrefix + key;
    await this.run('release', fullKey, () => this.client.eval(RELEASE_SCRIPT, 1, fullKey, `p:${token}`));
  }

  /** Closes the client if the store created it; a given client is left open. Safe to call twice. */
  async close(): Promise<void> {
    if (!this.ownsClient || this.closing) return;
    this.closing = true;
    const client = this.client;
    if (client.status !== 'ready') {
      // Also stops a pending reconnect, so nothing keeps the process alive.
      client.disconnect();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const ended = new Promise<void>((resolve) => {
      client.once('end', resolve);
      timer = setTimeout(resolve, this.timeout);
    });
    try {
      await client.quit();
      await ended;
    } catch {
      // Redis did not answer QUIT: drop the connection without waiting.
    } finally {
      clearTimeout(timer);
      // Re-read: the status changed while awaiting (TypeScript still has it narrowed to 'ready').
      const status: string = client.status;
      if (status !== 'end') client.disconnect();
    }
  }

  private async run<T>(operation: DedupStoreOperation, fullKey: string, call: () => Promise<T>): Promise<T> {
    try {
      await this.whenConnecting();
      return await call();
    } catch (error) {
      throw new DedupStoreUnavailableError(operation, fullKey, error);
    }
  }

  /**
   * A client without an offline queue rejects commands until it is ready, so a call made
   * while the (first) connection is being set up waits for it, up to `timeout`. While
   * Redis is known to be down (reconnecting) calls fail at once.
   */
  private async whenConnecting(): Promise<void> {
    const client = this.client;
    if (client.status === 'ready' || client.options.enableOfflineQueue !== false) return;
    if (client.status === 'wait') client.connect().catch(() => undefined);
    else if (client.status !== 'connecting' && client.status !== 'connect') return;
    // One wait shared by every concurrent call, so a burst of messages adds one set of listeners, not hundreds.
    this.readyWait ??= this.waitForReady().finally(() => {
      this.readyWait = undefined;
    });
    return this.readyWait;
  }

  private waitForReady(): Promise<void> {
    const client = this.client;
    return new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('error', onError);
        client.off('end', onEnd);
        if (error) reject(error);
        else resolve();
      };
      const onReady = (): void => done();
      const onError = (error: Error): void => done(error);
      const onEnd = (): void => done(new Error('Redis connection closed'));
      const timer = setTimeout(() => done(new Error(`Redis was not ready within ${this.timeout} ms`)), this.timeout);
      client.once('ready', onReady);
      client.once('error', onError);
      client.once('end', onEnd);
    });
  }
}

/** Redis `PX` takes a whole number of ms > 0. */
function wholeMs(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}
