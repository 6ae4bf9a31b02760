import type { RouteEnhancement, RouteEnhancer } from '../consumer/consumer-registry';
import type { FeatureHost } from '../consumer/feature-host';
import type { HandlerDescriptor } from '../consumer/handler-descriptor';
import type { HandlerRoute } from '../consumer/handler-route';
import type { DedupOptions, DedupStore } from '../options/dedup-store.interface';
import { MemoryDedupStore } from '../dedup/memory-dedup.store';
import { resolveDedupOptions } from '../dedup/resolve-dedup-options';
import { StoreDedupGuard } from './store-dedup.guard';
import { validateDedupOptions } from '../dedup/validate-dedup-options';

/** `dedup: { key, ttl, lease, store }` on a handler: idempotent consumption. The in-memory store is shared per connection. */
export class DedupEnhancer implements RouteEnhancer {
  private memoryStore?: MemoryDedupStore;
  private readonly stores = new Set<DedupStore>();

  constructor(private readonly host: FeatureHost) {}

  private optionsOf(handler: HandlerDescriptor): DedupOptions | undefined {
    const option = handler.config.dedup;
    if (option === false || option === undefined) return undefined;
    return option;
  }

  validate(handler: HandlerDescriptor): string[] {
    const options = this.optionsOf(handler);
    return options ? validateDedupOptions({ ...this.host.options.defaultDedup, ...options }, `${handler.name}: dedup`) : [];
  }

  enhance(route: HandlerRoute): RouteEnhancement {
    const options = this.optionsOf(route.descriptor);
    if (!options) return { route };
    const resolved = resolveDedupOptions(options, this.host.options.defaultDedup);
    const store = resolved.store ?? (this.memoryStore ??= new MemoryDedupStore());
    this.stores.add(store);
    return { route: { ...route, dedup: new StoreDedupGuard(route.descriptor.name, { ...resolved, store }, route.stats) } };
  }

  /** Closes the stores the handlers used (a Redis store given by URL owns its client). */
  async close(): Promise<void> {
    await Promise.all([...this.stores].map(closeQuietly));
    this.stores.clear();
  }
}

/** Closes a store; one that rejects, or throws before returning a promise, must not keep the others open. */
async function closeQuietly(store: DedupStore): Promise<void> {
  try {
    await store.close?.();
  } catch {
    // Nothing more to do at shutdown: the store's own connection is gone or broken.
  }
}
