import { CONTENDER_NAMES, ContenderName } from './contender';
import { ScenarioName, SCENARIOS } from './scenarios/scenario-catalog';

export interface Planned {
  round: number;
  /** Position of the contender in the round's rotation (0 = runs first). */
  order: number;
  scenario: ScenarioName;
  contender: ContenderName;
}

/**
 * Round r runs the contenders rotated by r (A B C D, then B C D A, ...),
 * scenario after scenario, so each contender takes every position in turn
 * and same-round comparisons are close in time. A scenario only gets the
 * contenders it lists.
 */
export function planTrials(rounds: number, scenarios: readonly ScenarioName[], contenders: readonly ContenderName[]): Planned[] {
  const base = CONTENDER_NAMES.filter((c) => contenders.includes(c));
  const plan: Planned[] = [];
  for (let round = 0; round < rounds; round++) {
    const rotation = base.map((_, i) => base[(i + round) % base.length]);
    for (const scenario of scenarios) {
      rotation.filter((c) => SCENARIOS[scenario].contenders.includes(c)).forEach((contender, order) => plan.push({ round, order, scenario, contender }));
    }
  }
  return plan;
}
