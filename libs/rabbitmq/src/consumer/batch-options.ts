import type { ResolvedOptions } from '../options/resolve-options';
import type { HandlerDescriptor } from './handler-descriptor';

/** A handler's batch settings, resolved. */
export interface ResolvedBatch {
  size: number;
  timeoutMs: number;
}

/** ms a partial batch waits for more messages unless the handler says otherwise (golevelup's default too). */
export const DEFAULT_BATCH_TIMEOUT_MS = 200;

/** The handler's batch settings from `batch` (Warren) or `batchOptions` (golevelup), or undefined when it takes one message at a time. */
export function resolveBatch(handler: HandlerDescriptor): ResolvedBatch | undefined {
  const { batch, batchOptions } = handler.config;
  if (batch !== undefined) return { size: batch.size, timeoutMs: batch.timeoutMs ?? DEFAULT_BATCH_TIMEOUT_MS };
  if (batchOptions !== undefined) return { size: batchOptions.size, timeoutMs: batchOptions.timeout ?? DEFAULT_BATCH_TIMEOUT_MS };
  return undefined;
}

/** The prefetch the handler's consumer gets: its own, its shared channel's, or the module's. */
export function effectivePrefetch(handler: HandlerDescriptor, options: ResolvedOptions): number {
  const config = handler.config;
  if (config.prefetch !== undefined) return config.prefetch;
  if (config.channel !== undefined) return options.channels[config.channel]?.prefetchCount ?? options.prefetchCount;
  return options.prefetchCount;
}

/**
 * Problems with a handler's batch settings: checked with every other option at start-up (and when a
 * consumer is added at run time). `queueShared`: other handlers consume the same queue.
 */
export function validateBatch(handler: HandlerDescriptor, options: ResolvedOptions, queueShared: boolean): string[] {
  const { batch, batchOptions } = handler.config;
  if (batch === undefined && batchOptions === undefined) return [];
  const name = handler.name;
  const problems: string[] = [];
  if (batch !== undefined && batchOptions !== undefined) {
    problems.push(`${name}: give batch or batchOptions (golevelup's name for it), not both`);
  }
  const field = batch !== undefined ? 'batch' : 'batchOptions';
  const given: unknown = batch ?? batchOptions;
  if (given === null || typeof given !== 'object') {
    problems.push(`${name}: ${field} must be an object such as { size: 10 } (got ${String(given)})`);
    return problems;
  }
  if (handler.kind !== 'subscribe') {
    problems.push(`${name}: ${field} is for subscribe handlers; an RPC handler answers each request on its own. Remove ${field}`);
  }
  const resolved = resolveBatch(handler)!;
  const timeoutField = batch !== undefined ? 'batch.timeoutMs' : 'batchOptions.timeout';
  const sizeValid = Number.isInteger(resolved.size) && resolved.size >= 1;
  if (!sizeValid) problems.push(`${name}: ${field}.size must be a positive integer (got ${String(resolved.size)})`);
  if (!Number.isInteger(resolved.timeoutMs) || resolved.timeoutMs < 1) {
    problems.push(`${name}: ${timeoutField} must be a positive integer of ms (got ${String(resolved.timeoutMs)})`);
  }
  const prefetch = effectivePrefetch(handler, options);
  // A prefetch of 0 sets no limit.
  if (sizeValid && prefetch !== 0 && prefetch < resolved.size) {
    const where =
      handler.config.prefetch !== undefined ? 'its prefetch' : handler.config.channel !== undefined ? `channel '${handler.config.channel}'` : 'prefetchCount';
    problems.push(
      `${name}: ${field}.size is ${resolved.size} but ${where} is ${prefetch}, so the broker never hands over a full batch. ` +
        `Set prefetch: ${resolved.size} (or more) on the handler, or lower ${field}.size`,
    );
  }
  if (queueShared) {
    problems.push(`${name}: a batch handler must be the only handler on its queue; give it a queue of its own`);
  }
  return problems;
}
