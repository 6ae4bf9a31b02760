import type { ContenderName } from './contender';
import type { ScenarioName } from './scenarios/scenario-catalog';
import type { ScenarioOutcome } from './scenarios/scenario';
import type { WireObservation } from './support/wire-probe';

/** Prefix of the one stdout line a trial prints its result on (libraries may log to stdout too). */
export const RESULT_MARKER = 'BENCH_RESULT ';

export type TrialStatus = 'ok' | 'error' | 'skipped';

/** What one trial (one child process) reports. */
export interface TrialResult {
  contender: ContenderName;
  scenario: ScenarioName | 'check';
  status: TrialStatus;
  /** Why it failed or was skipped. */
  reason?: string;
  outcome?: ScenarioOutcome;
  /** What the contender did on the wire (see support/wire-probe.ts). */
  observed?: WireObservation;
  peakRssMb: number;
  /** Wall time of the whole child, start-up included. */
  wallMs: number;
  /**
   * Queues/exchanges the contender declared under names outside the trial's
   * prefix (shared topology such as Warren's retry wait queues). Not deleted:
   * other applications on the broker may use them.
   */
  sharedNames?: { queues: string[]; exchanges: string[] };
  /** Unhandled rejections and cleanup problems: reported, not fatal. */
  warnings: string[];
}
