import type { ContenderName } from '../contender';

/**
 * What the suite measures, as plain data: the orchestrator plans and reports
 * from it without loading any library; trials look up their sizing here.
 */

export const CORE_SCENARIOS = ['publish', 'consume', 'rpc-seq', 'rpc-conc'] as const;
export const WARREN_SCENARIOS = ['consume-retry-dedup', 'startup', 'reconnect', 'rpc-memory'] as const;
export type CoreScenarioName = (typeof CORE_SCENARIOS)[number];
export type ScenarioName = CoreScenarioName | (typeof WARREN_SCENARIOS)[number];
export const ALL_SCENARIOS: readonly ScenarioName[] = [...CORE_SCENARIOS, ...WARREN_SCENARIOS];

export type Mode = 'quick' | 'full';

/** A figure a scenario reports; `key` indexes `ScenarioOutcome.metrics`. */
export interface MetricSpec {
  key: string;
  label: string;
  unit: string;
  higherIsBetter: boolean;
}

/** How big a trial is. Every loop is bounded by `count` and by `budgetMs`. */
export interface ScenarioSizing {
  /** Measured operations (messages, calls, handlers, outstanding calls). */
  count: number;
  /** Operations before the measured window (not measured). */
  warmup: number;
  /** Operations in flight at once. */
  concurrency: number;
  /** Wall-time budget of the measured part; reaching it truncates the trial, it does not fail it. */
  budgetMs: number;
  /** RPC timeout used by the trial. */
  rpcTimeoutMs: number;
}

export interface ScenarioSpec {
  name: ScenarioName;
  title: string;
  /** The headline figure, compared across contenders. */
  metric: MetricSpec;
  /** Further figures printed beside it. */
  extra: MetricSpec[];
  /** What one operation is, for "CPU µs per <op>". */
  op: string;
  /** Contenders that take part (the reference ones for Warren-only scenarios are listed after warren). */
  contenders: readonly ContenderName[];
  kind: 'core' | 'warren';
  sizing: Record<Mode, ScenarioSizing>;
}

const ALL: readonly ContenderName[] = ['amqplib', 'warren', 'golevelup', 'nest-rmq'];
const RPC_TIMEOUT_MS = 30_000;

export const SCENARIOS: Record<ScenarioName, ScenarioSpec> = {
  publish: {
    name: 'publish',
    title: 'publish with confirms, 100 in flight',
    metric: { key: 'throughput', label: 'msg/s', unit: 'msg/s', higherIsBetter: true },
    extra: [],
    op: 'msg',
    contenders: ALL,
    kind: 'core',
    sizing: {
      quick: { count: 5_000, warmup: 500, concurrency: 100, budgetMs: 20_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
      full: { count: 20_000, warmup: 2_000, concurrency: 100, budgetMs: 45_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
    },
  },
  consume: {
    name: 'consume',
    title: 'consume a pre-filled queue with acks, prefetch 50',
    metric: { key: 'throughput', label: 'msg/s', unit: 'msg/s', higherIsBetter: true },
    extra: [],
    op: 'msg',
    contenders: ALL,
    kind: 'core',
    sizing: {
      quick: { count: 5_000, warmup: 500, concurrency: 50, budgetMs: 20_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
      full: { count: 20_000, warmup: 2_000, concurrency: 50, budgetMs: 45_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
    },
  },
  'rpc-seq': {
    name: 'rpc-seq',
    title: 'sequential RPC (latency)',
    metric: { key: 'p50Ms', label: 'p50 ms', unit: 'ms', higherIsBetter: false },
    extra: [{ key: 'p99Ms', label: 'p99 ms', unit: 'ms', higherIsBetter: false }],
    op: 'call',
    contenders: ALL,
    kind: 'core',
    sizing: {
      quick: { count: 500, warmup: 50, concurrency: 1, budgetMs: 20_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
      full: { count: 2_000, warmup: 200, concurrency: 1, budgetMs: 45_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
    },
  },
  'rpc-conc': {
    name: 'rpc-conc',
    title: 'RPC at concurrency 50',
    metric: { key: 'throughput', label: 'calls/s', unit: 'calls/s', higherIsBetter: true },
    extra: [{ key: 'p99Ms', label: 'p99 ms', unit: 'ms', higherIsBetter: false }],
    op: 'call',
    contenders: ALL,
    kind: 'core',
    sizing: {
      quick: { count: 3_000, warmup: 300, concurrency: 50, budgetMs: 20_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
      full: { count: 10_000, warmup: 1_000, concurrency: 50, budgetMs: 45_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
    },
  },
  'consume-retry-dedup': {
    name: 'consume-retry-dedup',
    title: 'consume with retry + dedup enabled (vs plain consume, same round)',
    metric: { key: 'throughput', label: 'msg/s', unit: 'msg/s', higherIsBetter: true },
    extra: [],
    op: 'msg',
    contenders: ['warren'],
    kind: 'warren',
    sizing: {
      quick: { count: 5_000, warmup: 500, concurrency: 50, budgetMs: 20_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
      full: { count: 20_000, warmup: 2_000, concurrency: 50, budgetMs: 45_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
    },
  },
  startup: {
    name: 'startup',
    title: 'start-up with 500 subscribe handlers',
    metric: { key: 'startupMs', label: 'ready ms', unit: 'ms', higherIsBetter: false },
    extra: [{ key: 'allLiveMs', label: 'all consuming ms', unit: 'ms', higherIsBetter: false }],
    op: 'handler',
    contenders: ['warren', 'golevelup'],
    kind: 'warren',
    sizing: {
      quick: { count: 500, warmup: 0, concurrency: 50, budgetMs: 60_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
      full: { count: 500, warmup: 0, concurrency: 50, budgetMs: 90_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
    },
  },
  reconnect: {
    name: 'reconnect',
    title: 'reconnect and resubscribe 500 handlers after the broker closes the connection',
    metric: { key: 'resubscribeMs', label: 'resubscribed ms', unit: 'ms', higherIsBetter: false },
    extra: [],
    op: 'handler',
    contenders: ['warren', 'golevelup'],
    kind: 'warren',
    sizing: {
      quick: { count: 500, warmup: 0, concurrency: 50, budgetMs: 60_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
      full: { count: 500, warmup: 0, concurrency: 50, budgetMs: 90_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
    },
  },
  'rpc-memory': {
    name: 'rpc-memory',
    title: 'memory with outstanding RPC calls nobody answers',
    metric: { key: 'bytesPerCall', label: 'heap B/call', unit: 'B', higherIsBetter: false },
    extra: [
      { key: 'heapDuringMb', label: 'heap during MB', unit: 'MB', higherIsBetter: false },
      { key: 'retainedAfterMb', label: 'retained after MB', unit: 'MB', higherIsBetter: false },
    ],
    op: 'call',
    contenders: ['warren', 'golevelup'],
    kind: 'warren',
    sizing: {
      quick: { count: 2_000, warmup: 0, concurrency: 2_000, budgetMs: 30_000, rpcTimeoutMs: 4_000 },
      full: { count: 10_000, warmup: 0, concurrency: 10_000, budgetMs: 60_000, rpcTimeoutMs: 10_000 },
    },
  },
};

/** Prefetch asked of every consumer. */
export const PREFETCH = 50;

/** Time a trial may take beyond its measured budget (process start, pre-fill, cleanup) before it is stopped. */
export const TRIAL_OVERHEAD_MS = 120_000;
