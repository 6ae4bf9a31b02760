import { InvalidOptionsError } from '../errors/invalid-options.error';

export const DEFAULT_OUTBOX_TABLE = 'warren_outbox';

/** How the outbox is stored and relayed. Every field is optional. */
export interface OutboxOptions {
  /** The outbox table, `table` or `schema.table` (letters, digits, `_`). Also the LISTEN/NOTIFY channel. @default 'warren_outbox' */
  table?: string;
  /** Rows one relay claims and publishes per transaction. @default 100 */
  batchSize?: number;
  /** ms between looks at the table when no NOTIFY arrives (the fallback when LISTEN is off or its connection is down). @default 1000 */
  pollInterval?: number;
  /** LISTEN for the writers' NOTIFY, so a committed row is relayed in milliseconds. Needs one pooled connection of its own. @default true */
  listen?: boolean;
  /** ms a sent row is kept before it is deleted (for audit and to answer "was it sent?"). @default 86_400_000 (24 h) */
  retention?: number;
  /** ms between deletions of sent rows older than `retention`. @default 60_000 */
  cleanupInterval?: number;
  /** ms between reads of the backlog (pending, parked, failed, oldest pending age) reported to telemetry. @default 5000 */
  backlogInterval?: number;
  /** Delay before a row whose publish failed transiently (timeout, nack, connection lost) is tried again, doubling per attempt. @default { min: 1000, max: 60_000 } */
  retryDelay?: { min?: number; max?: number };
  /** Delay after the database failed (connection refused, lost), doubling while it keeps failing. @default { min: 200, max: 10_000 } */
  outageBackoff?: { min?: number; max?: number };
  /** ms to wait for each publish's confirm. @default the connection's publish timeout */
  publishTimeout?: number;
}

export interface ResolvedOutboxOptions {
  table: string;
  batchSize: number;
  pollInterval: number;
  listen: boolean;
  retention: number;
  cleanupInterval: number;
  backlogInterval: number;
  retryDelay: { min: number; max: number };
  outageBackoff: { min: number; max: number };
  publishTimeout: number | undefined;
}

export const DEFAULT_OUTBOX_OPTIONS: Readonly<Omit<ResolvedOutboxOptions, 'publishTimeout'>> = Object.freeze({
  table: DEFAULT_OUTBOX_TABLE,
  batchSize: 100,
  pollInterval: 1000,
  listen: true,
  retention: 86_400_000,
  cleanupInterval: 60_000,
  backlogInterval: 5000,
  retryDelay: Object.freeze({ min: 1000, max: 60_000 }),
  outageBackoff: Object.freeze({ min: 200, max: 10_000 }),
});

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why `table` is not a usable outbox table name, or undefined. */
export function validateTableName(table: unknown): string | undefined {
  if (typeof table !== 'string') return `outbox.table must be a string like 'warren_outbox' or 'app.warren_outbox', got ${typeof table}`;
  const parts = table.split('.');
  if (parts.length > 2 || !parts.every((part) => IDENTIFIER.test(part)) || table.length > 63) {
    return `outbox.table '${table}' must be 'table' or 'schema.table' of letters, digits and '_' (63 characters at most: it is also the NOTIFY channel)`;
  }
  return undefined;
}

/** Merges the defaults in and reports every problem at once, as InvalidOptionsError. */
export function resolveOutboxOptions(options: OutboxOptions = {}): ResolvedOutboxOptions {
  const problems: string[] = [];
  const resolved: ResolvedOutboxOptions = {
    table: options.table ?? DEFAULT_OUTBOX_OPTIONS.table,
    batchSize: options.batchSize ?? DEFAULT_OUTBOX_OPTIONS.batchSize,
    pollInterval: options.pollInterval ?? DEFAULT_OUTBOX_OPTIONS.pollInterval,
    listen: options.listen ?? DEFAULT_OUTBOX_OPTIONS.listen,
    retention: options.retention ?? DEFAULT_OUTBOX_OPTIONS.retention,
    cleanupInterval: options.cleanupInterval ?? DEFAULT_OUTBOX_OPTIONS.cleanupInterval,
    backlogInterval: options.backlogInterval ?? DEFAULT_OUTBOX_OPTIONS.backlogInterval,
    retryDelay: {
      min: options.retryDelay?.min ?? DEFAULT_OUTBOX_OPTIONS.retryDelay.min,
      max: options.retryDelay?.max ?? DEFAULT_OUTBOX_OPTIONS.retryDelay.max,
    },
    outageBackoff: {
      min: options.outageBackoff?.min ?? DEFAULT_OUTBOX_OPTIONS.outageBackoff.min,
      max: options.outageBackoff?.max ?? DEFAULT_OUTBOX_OPTIONS.outageBackoff.max,
    },
    publishTimeout: options.publishTimeout,
  };
  const tableProblem = validateTableName(resolved.table);
  if (tableProblem) problems.push(tableProblem);
  const positive = (name: string, value: unknown, integer = false): void => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
      problems.push(`outbox.${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(value)}`);
    }
  };
  positive('batchSize', resolved.batchSize, true);
  positive('pollInterval', resolved.pollInterval);
  positive('retention', resolved.retention);
  positive('cleanupInterval', resolved.cleanupInterval);
  positive('backlogInterval', resolved.backlogInterval);
  for (const name of ['retryDelay', 'outageBackoff'] as const) {
    positive(`${name}.min`, resolved[name].min);
    positive(`${name}.max`, resolved[name].max);
    if (resolved[name].min > resolved[name].max) problems.push(`outbox.${name}.min (${resolved[name].min}) is more than its max (${resolved[name].max})`);
  }
  if (resolved.publishTimeout !== undefined) positive('publishTimeout', resolved.publishTimeout);
  if (typeof resolved.listen !== 'boolean') problems.push(`outbox.listen must be true or false, got ${JSON.stringify(resolved.listen)}`);
  if (problems.length > 0) throw new InvalidOptionsError(problems);
  return resolved;
}
