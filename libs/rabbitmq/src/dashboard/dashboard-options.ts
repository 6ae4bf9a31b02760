import type { CanActivate, Type } from '@nestjs/common';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type { DashboardTelemetry } from './dashboard.telemetry';
import { isOutboxSource, type DashboardOutboxOption } from './dashboard-outbox';

/** Options of `WarrenDashboardModule.forRoot()`. */
export interface WarrenDashboardOptions {
  /** Where the dashboard is mounted in the host app. @default '/warren' */
  path?: string;
  /**
   * The host app's guard (a Nest `CanActivate`, as a class resolved by Nest or an instance): it runs before
   * every page, API route and asset of the dashboard; a guard that returns false gives 403.
   * @default none: anyone who can reach the app can use the dashboard
   */
  authGuard?: Type<CanActivate> | CanActivate;
  /** Shows everything, offers no action, and refuses replay and purge with 403. @default false */
  readOnly?: boolean;
  /**
   * JSON paths masked (`"***"`) in payload previews: dot-separated keys, `*` for any key or array index,
   * e.g. `'card.number'`, `'customer.*.email'`, `'items.*.token'`.
   * @default []
   */
  maskPaths?: string[];
  /** Bytes of a payload shown in a preview; the rest is cut and counted. @default 2048 */
  previewBytes?: number;
  /** Dead letters on one page. @default 25 */
  pageSize?: number;
  /** Dead letters read at most when filtering one queue; past it the page says how many were not looked at. @default 20000 */
  scanLimit?: number;
  /** How often the pages refresh their data (ms); 0 turns live refresh off. @default 3000 */
  refreshMs?: number;
  /** Dead-letter queues to show besides those of this app's handlers (another service's, for example). @default [] */
  deadLetterQueues?: string[];
  /** Queues to show besides this app's handler, dead-letter and retry wait queues. @default [] */
  queues?: string[];
  /** The connection whose queues are read and whose dead letters are replayed. @default 'default' */
  connection?: string;
  /** Latency percentiles and rates per handler: pass the same instance in RabbitMQModule's `telemetry`. */
  telemetry?: DashboardTelemetry;
  /**
   * The transactional outbox whose parked (unroutable) and failed rows the "Outbox" page shows and
   * replays, next to the dead letters: `OutboxRelay` (the token WarrenOutboxModule provides it by),
   * or a relay instance.
   * @default none: no Outbox page
   */
  outbox?: DashboardOutboxOption;
}

export interface ResolvedDashboardOptions extends Required<Omit<WarrenDashboardOptions, 'authGuard' | 'telemetry' | 'outbox'>> {
  authGuard?: Type<CanActivate> | CanActivate;
  telemetry?: DashboardTelemetry;
  outbox?: DashboardOutboxOption;
}

export const DEFAULT_DASHBOARD_OPTIONS = {
  path: '/warren',
  readOnly: false,
  maskPaths: [] as string[],
  previewBytes: 2048,
  pageSize: 25,
  scanLimit: 20_000,
  refreshMs: 3000,
  deadLetterQueues: [] as string[],
  queues: [] as string[],
  connection: 'default',
} as const;

/** Applies defaults and reports every problem in one InvalidOptionsError. */
export function resolveDashboardOptions(options: WarrenDashboardOptions = {}): ResolvedDashboardOptions {
  const problems: string[] = [];
  const path = `/${(options.path ?? DEFAULT_DASHBOARD_OPTIONS.path).replace(/^\/+|\/+$/g, '')}`;
  if (!/^\/[A-Za-z0-9._~\-/]+$/.test(path) || path.includes('//')) {
    problems.push(`dashboard path '${String(options.path)}' must be a URL path of letters, digits, '.', '_', '~', '-' and '/', such as '/warren'`);
  }
  const positive = (field: 'previewBytes' | 'pageSize' | 'scanLimit', max: number): number => {
    const value = options[field] ?? DEFAULT_DASHBOARD_OPTIONS[field];
    if (!Number.isInteger(value) || value < 1 || value > max) problems.push(`dashboard ${field} must be an integer from 1 to ${max} (got ${String(value)})`);
    return value;
  };
  const previewBytes = positive('previewBytes', 1_048_576);
  const pageSize = positive('pageSize', 500);
  const scanLimit = positive('scanLimit', 1_000_000);
  const refreshMs = options.refreshMs ?? DEFAULT_DASHBOARD_OPTIONS.refreshMs;
  if (!Number.isInteger(refreshMs) || refreshMs < 0) problems.push(`dashboard refreshMs must be 0 (off) or a positive integer (got ${String(refreshMs)})`);
  else if (refreshMs > 0 && refreshMs < 500) problems.push(`dashboard refreshMs must be at least 500 ms, or 0 to turn live refresh off (got ${refreshMs})`);
  const strings = (field: 'maskPaths' | 'deadLetterQueues' | 'queues'): string[] => {
    const value = options[field] ?? [];
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '')) {
      problems.push(`dashboard ${field} must be a list of non-empty strings`);
      return [];
    }
    return [...value];
  };
  const maskPaths = strings('maskPaths');
  const deadLetterQueues = strings('deadLetterQueues');
  const queues = strings('queues');
  for (const mask of maskPaths) if (mask.split('.').some((part) => part === '')) problems.push(`dashboard maskPaths entry '${mask}' has an empty segment`);
  const guard = options.authGuard;
  if (guard !== undefined && typeof guard !== 'function' && typeof (guard as { canActivate?: unknown }).canActivate !== 'function') {
    problems.push('dashboard authGuard must be a CanActivate class or instance (something with canActivate())');
  }
  const outbox = options.outbox;
  if (outbox !== undefined && typeof outbox !== 'function' && typeof outbox !== 'string' && typeof outbox !== 'symbol' && !isOutboxSource(outbox)) {
    problems.push('dashboard outbox must be an OutboxRelay (or its provider token), something with options.table, held() and replay()');
  }
  if (problems.length > 0) throw new InvalidOptionsError(problems);
  return {
    path,
    authGuard: guard,
    readOnly: options.readOnly ?? DEFAULT_DASHBOARD_OPTIONS.readOnly,
    maskPaths,
    previewBytes,
    pageSize,
    scanLimit,
    refreshMs,
    deadLetterQueues,
    queues,
    connection: options.connection ?? DEFAULT_DASHBOARD_OPTIONS.connection,
    telemetry: options.telemetry,
    outbox,
  };
}
