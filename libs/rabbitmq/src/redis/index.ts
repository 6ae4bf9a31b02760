/**
 * `@warren/rabbitmq/redis`: the Redis-backed dedup store and stream offset store. A separate entry point so
 * applications that do not use Redis never load ioredis.
 */
export { RedisDedupStore } from '../dedup/redis-dedup.store';
export type { RedisDedupStoreOptions } from '../dedup/redis-dedup.store';
export { RedisStreamOffsetStore } from '../stream/redis-offset.store';
export type { RedisStreamOffsetStoreOptions } from '../stream/redis-offset.store';
