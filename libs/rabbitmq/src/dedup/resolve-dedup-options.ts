import type { DedupMessage, DedupOptions, DedupStore } from '../options/dedup-store.interface';

/** DedupOptions with every default applied; `store` stays undefined when no store was given. */
export interface ResolvedDedupOptions {
  key: (message: DedupMessage) => string | undefined;
  ttl: number;
  lease: number;
  store?: DedupStore;
}

/** The default dedup key: the AMQP `messageId` property, when it is a non-empty string. */
export function messageIdDedupKey(message: DedupMessage): string | undefined {
  const messageId: unknown = message.properties?.messageId;
  return typeof messageId === 'string' && messageId !== '' ? messageId : undefined;
}

/** The defaults of every dedup option; the single place they are defined. */
export const DEFAULT_DEDUP_OPTIONS: Readonly<Omit<ResolvedDedupOptions, 'store'>> = Object.freeze({
  key: messageIdDedupKey,
  ttl: 24 * 60 * 60 * 1000,
  lease: 30_000,
});

/**
 * Merges a handler's dedup options over the module's defaults over `DEFAULT_DEDUP_OPTIONS`,
 * field by field with `??`. The caller supplies the shared in-memory store when `store`
 * is still undefined, so one process-wide store is not created per handler.
 */
export function resolveDedupOptions(options: DedupOptions | undefined, moduleDefaults?: DedupOptions): ResolvedDedupOptions {
  const resolved: ResolvedDedupOptions = {
    key: options?.key ?? moduleDefaults?.key ?? DEFAULT_DEDUP_OPTIONS.key,
    ttl: options?.ttl ?? moduleDefaults?.ttl ?? DEFAULT_DEDUP_OPTIONS.ttl,
    lease: options?.lease ?? moduleDefaults?.lease ?? DEFAULT_DEDUP_OPTIONS.lease,
  };
  const store = options?.store ?? moduleDefaults?.store;
  if (store !== undefined) resolved.store = store;
  return resolved;
}
