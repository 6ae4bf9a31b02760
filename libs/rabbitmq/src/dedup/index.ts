// RedisDedupStore is deliberately not here: it loads ioredis, so it has its own entry point (`@warren/rabbitmq/redis`).
export type { DedupClaim, DedupMessage, DedupOptions, DedupStore } from '../options/dedup-store.interface';
export { MemoryDedupStore } from './memory-dedup.store';
export type { MemoryDedupStoreOptions } from './memory-dedup.store';
export { DEFAULT_DEDUP_OPTIONS, messageIdDedupKey, resolveDedupOptions } from './resolve-dedup-options';
export type { ResolvedDedupOptions } from './resolve-dedup-options';
export { validateDedupOptions } from './validate-dedup-options';
