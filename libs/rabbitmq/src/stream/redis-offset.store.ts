import { Redis } from 'ioredis';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type { StreamOffsetStore } from '../options/stream-options.interface';

/** Options of `RedisStreamOffsetStore`: give `client` or `url`, not both. */
export interface RedisStreamOffsetStoreOptions {
  /** An ioredis client to use; the store neither configures nor closes it. */
  client?: Redis;
  /** A Redis URL; the store creates the client and closes it in `close()`. */
  url?: string;
  /**
   * Prepended to every reader name.
   * @default 'warren:stream-offset:'
   */
  keyPrefix?: string;
}

/** Sets the key to ARGV[1] unless it already holds a larger offset. */
const SAVE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]))
if current == nil or tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1`;

/**
 * A `StreamOffsetStore` in Redis, shared by every process that runs a reader: one key per reader
 * holding its last handled offset, only ever raised (a late write of a smaller offset is ignored).
 * Import it from `@warren/rabbitmq/redis`.
 */
export class RedisStreamOffsetStore implements StreamOffsetStore {
  readonly client: Redis;
  private readonly keyPrefix: string;
  private readonly ownsClient: boolean;

  constructor(options: RedisStreamOffsetStoreOptions) {
    if ((options.client === undefined) === (options.url === undefined)) {
      throw new InvalidOptionsError(['RedisStreamOffsetStore: give exactly one of client (an ioredis instance) or url']);
    }
    this.keyPrefix = options.keyPrefix ?? 'warren:stream-offset:';
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? new Redis(options.url as string, { maxRetriesPerRequest: 1, retryStrategy: (times) => Math.min(times * 200, 2000) });
    if (this.ownsClient) this.client.on('error', () => undefined);
  }

  async load(reader: string): Promise<number | undefined> {
    const value = await this.client.get(this.keyPrefix + reader);
    return value === null ? undefined : Number(value);
  }

  async save(reader: string, offset: number): Promise<void> {
    await this.client.eval(SAVE_SCRIPT, 1, this.keyPrefix + reader, String(offset));
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.quit().catch(() => undefined);
  }
}
