import type { HandlerDescriptor } from './handler-descriptor';

const KEYWORDS = ['first', 'last', 'next'];

/** Problems with a handler's `stream` option. */
export function validateStream(handler: HandlerDescriptor): string[] {
  const stream = handler.config.stream;
  if (stream === undefined) return [];
  const name = handler.name;
  if (typeof stream !== 'object' || stream === null) return [`${name}: stream must be an object like { offset: 'first' } (got ${String(stream)})`];
  const problems: string[] = [];
  const config = handler.config;
  const type = config.queueOptions?.type ?? config.queueOptions?.arguments?.['x-queue-type'];
  if (!config.queue) problems.push(`${name}: stream needs the name of a stream queue (set 'queue')`);
  if (config.channel !== undefined) problems.push(`${name}: a stream reader cannot use a shared channel ('channel'): it has its own`);
  if (type !== 'stream') problems.push(`${name}: stream needs a stream queue (set queueOptions: { type: 'stream' })`);
  const offset: unknown = stream.offset;
  const validOffset =
    offset === undefined ||
    (typeof offset === 'string' && KEYWORDS.includes(offset)) ||
    (offset instanceof Date && !Number.isNaN(offset.getTime())) ||
    (typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0);
  if (!validOffset) problems.push(`${name}: stream.offset must be 'first', 'last', 'next', a valid Date or an integer offset >= 0 (got ${String(offset)})`);
  const store = stream.store as unknown as Record<string, unknown> | undefined;
  if (store !== undefined && (typeof store?.load !== 'function' || typeof store?.save !== 'function')) {
    problems.push(`${name}: stream.store must have load(reader) and save(reader, offset) methods (a StreamOffsetStore)`);
  }
  if (stream.reader !== undefined && (typeof stream.reader !== 'string' || stream.reader === '')) {
    problems.push(`${name}: stream.reader must be a non-empty string (got ${String(stream.reader)})`);
  }
  if (config.partitions !== undefined) problems.push(`${name}: stream and partitions cannot be combined`);
  if (handler.kind !== 'subscribe') problems.push(`${name}: stream applies to @RabbitSubscribe handlers, not RPC handlers`);
  if (config.retry)
    problems.push(
      `${name}: a stream reader cannot use delayed retry (a stream is not re-delivered from a wait queue); use retry.immediateRetries or deadLetter`,
    );
  return problems;
}
