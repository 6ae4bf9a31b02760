import type { ContenderName } from '../contender';

/**
 * What the suite measures, as plain data: the orchestrator plans and reports
 * from it without loading any library; trials look up their sizing here.
 */

export const CORE_SCENARIOS = ['publish', 'consume', 'rpc-seq', 'rpc-conc'] as const;
export const WARREN_SCENARIOS = [
  'consume-retry-dedup',
  'consume-batch',
  'consume-partitioned',
  'consume-partitioned-scale',
  'startup',
  'reconnect',
  'rpc-memory',
  'outbox',
] as const;
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

const ALL: readonly ContenderName[] = ['amqplib', 'amqplib-plain', 'warren', 'golevelup', 'nest-rmq'];
const RPC_TIMEOUT_MS = 30_000;
/** Messages per batch in `consume-batch`: half the prefetch, so the broker delivers the next batch while one is handled. */
export const BENCH_BATCH_SIZE = 25;

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
      full: { count: 60_000, warmup: 6_000, concurrency: 100, budgetMs: 45_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
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
      full: { count: 60_000, warmup: 6_000, concurrency: 50, budgetMs: 45_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
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
      full: { count: 10_000, warmup: 1_000, concurrency: 1, budgetMs: 45_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
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
      full: { count: 40_000, warmup: 4_000, concurrency: 50, budgetMs: 45_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
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
      full: { count: 60_000, warmup: 6_000, concurrency: 50, budgetMs: 45_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
    },
  },
  'consume-batch': {
    name: 'consume-batch',
    title: `consume in batches of ${BENCH_BATCH_SIZE}, prefetch 50 (vs plain consume, same round)`,
    metric: { key: 'throughput', label: 'msg/s', unit: 'msg/s', higherIsBetter: true },
    extra: [],
    op: 'msg',
    contenders: ['warren'],
    kind: 'warren',
    sizing: {
      quick: { count: 5_000, warmup: 500, concurrency: 50, budgetMs: 20_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
      full: { count: 60_000, warmup: 6_000, concurrency: 50, budgetMs: 45_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
    },
  },
  'consume-partitioned': {
    name: 'consume-partitioned',
    title: 'ordered consume over 8 partitions, one instance (vs plain consume, same round)',
    metric: { key: 'throughput', label: 'msg/s', unit: 'msg/s', higherIsBetter: true },
    extra: [],
    op: 'msg',
    contenders: ['warren'],
    kind: 'warren',
    sizing: {
      quick: { count: 5_000, warmup: 500, concurrency: 50, budgetMs: 20_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
      full: { count: 60_000, warmup: 6_000, concurrency: 50, budgetMs: 45_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
    },
  },
  'consume-partitioned-scale': {
    name: 'consume-partitioned-scale',
    title: 'ordered consume over 8 partitions by 1, 2 and 3 consumer processes (vs plain consume, same round)',
    metric: { key: 'throughput', label: 'msg/s, 3 processes', unit: 'msg/s', higherIsBetter: true },
    extra: [
      { key: 'throughput2', label: 'msg/s, 2 processes', unit: 'msg/s', higherIsBetter: true },
      { key: 'throughput1', label: 'msg/s, 1 process', unit: 'msg/s', higherIsBetter: true },
      { key: 'cpuUsPerMsg2', label: 'CPU µs/msg, 2 processes (sum)', unit: 'µs', higherIsBetter: false },
      { key: 'cpuUsPerMsg3', label: 'CPU µs/msg, 3 processes (sum)', unit: 'µs', higherIsBetter: false },
      { key: 'workThroughput1', label: 'msg/s, 1 process, 100 µs CPU/msg handler', unit: 'msg/s', higherIsBetter: true },
      { key: 'workThroughput2', label: 'msg/s, 2 processes, 100 µs CPU/msg handler', unit: 'msg/s', higherIsBetter: true },
      { key: 'workThroughput3', label: 'msg/s, 3 processes, 100 µs CPU/msg handler', unit: 'msg/s', higherIsBetter: true },
    ],
    op: 'msg',
    contenders: ['warren'],
    kind: 'warren',
    sizing: {
      quick: { count: 5_000, warmup: 0, concurrency: 50, budgetMs: 20_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
      full: { count: 20_000, warmup: 0, concurrency: 50, budgetMs: 45_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
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
  outbox: {
    name: 'outbox',
    title: 'orders to PostgreSQL with their event: transactional outbox vs publish after commit',
    metric: { key: 'throughput', label: 'orders/s, outbox (event confirmed)', unit: 'orders/s', higherIsBetter: true },
    extra: [
      { key: 'directThroughput', label: 'orders/s, publish after commit', unit: 'orders/s', higherIsBetter: true },
      { key: 'relayP50Ms', label: 'relay p50 ms (commit → confirm)', unit: 'ms', higherIsBetter: false },
      { key: 'relayP99Ms', label: 'relay p99 ms (commit → confirm)', unit: 'ms', higherIsBetter: false },
      { key: 'polledThroughput', label: 'orders/s, outbox without NOTIFY (polling 100 ms)', unit: 'orders/s', higherIsBetter: true },
      { key: 'polledP50Ms', label: 'relay p50 ms without NOTIFY', unit: 'ms', higherIsBetter: false },
      { key: 'polledP99Ms', label: 'relay p99 ms without NOTIFY', unit: 'ms', higherIsBetter: false },
    ],
    op: 'order',
    contenders: ['warren'],
    kind: 'warren',
    sizing: {
      quick: { count: 2_000, warmup: 0, concurrency: 20, budgetMs: 30_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
      full: { count: 10_000, warmup: 0, concurrency: 20, budgetMs: 60_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
    },
  },
};

/** Prefetch asked of every consumer. */
export const PREFETCH = 50;

/** Time a trial may take beyond its measured budget (process start, pre-fill, cleanup) before it is stopped. */
export const TRIAL_OVERHEAD_MS = 120_000;
