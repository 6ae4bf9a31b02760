import type { BenchSettings, Contender, DeclaredSettings, Route } from '../contender';
import type { BrokerHelper } from '../support/broker-helper';
import type { ScenarioName, ScenarioSizing } from './scenario-catalog';

/** What the orchestrator passes a trial (as JSON on the command line). */
export interface TrialParams extends ScenarioSizing {
  url: string;
  /** Unique to the trial: every queue/exchange name starts with it. */
  namePrefix: string;
  prefetch: number;
}

/** What a scenario measured. */
export interface ScenarioOutcome {
  /** Figures named by the catalog's metric keys, plus any the scenario adds. */
  metrics: Record<string, number>;
  /** Measured operations, window length and the process CPU spent in it. */
  ops: number;
  durationMs: number;
  cpuUs: number;
  cpuUsPerOp: number;
  /** The time budget ran out before `count` operations: fewer were measured (not an error). */
  truncated: boolean;
  settings: DeclaredSettings;
  notes: string[];
}

/** A trial failed for a reason that is not slowness: lost, unacked or wrong messages. */
export class BenchIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchIntegrityError';
  }
}

/** The scenario cannot run here (a tool it needs is missing): the trial is skipped, not failed. */
export class ScenarioUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'ScenarioUnavailableError';
  }
}

/** Everything a scenario needs; it registers every name it creates so the trial can delete it. */
export class ScenarioContext {
  private readonly queues = new Set<string>();
  private readonly exchanges = new Set<string>();

  constructor(
    readonly params: TrialParams,
    readonly helper: BrokerHelper,
  ) {}

  get settings(): BenchSettings {
    return { url: this.params.url, prefetch: this.params.prefetch, namePrefix: this.params.namePrefix, rpcTimeoutMs: this.params.rpcTimeoutMs };
  }

  /** A route with names unique to the trial, registered for deletion. */
  route(suffix: string, routingKey = suffix): Route {
    const route = { exchange: `${this.params.namePrefix}.x`, routingKey, queue: `${this.params.namePrefix}.${suffix}` };
    this.queues.add(route.queue);
    this.exchanges.add(route.exchange);
    return route;
  }

  /** Registers a queue a library creates next to the trial's own (e.g. a dead-letter queue) for deletion. */
  trackQueue(name: string): void {
    this.queues.add(name);
  }

  /** Registers an exchange a library creates next to the trial's own (e.g. a partitioned handler's) for deletion. */
  trackExchange(name: string): void {
    this.exchanges.add(name);
  }

  get createdQueues(): string[] {
    return [...this.queues];
  }

  get createdExchanges(): string[] {
    return [...this.exchanges];
  }
}

export type ScenarioRunner = (contender: Contender, ctx: ScenarioContext) => Promise<ScenarioOutcome>;
export type ScenarioRunners = Record<ScenarioName, ScenarioRunner>;
