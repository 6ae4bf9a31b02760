import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Figures } from './checker';
import { FIGURES_FILE } from './paths';

/** One line of the figures table. Fields that do not apply to a scenario stay undefined ("–"). */
export interface FigureRow {
  /** Short id shown first, e.g. "1" or "3b". */
  id: string;
  scenario: string;
  /** The Jest test (full name) whose result goes in the row's result column. */
  test: string;
  figures?: Partial<Figures>;
  durationMs: number;
  /** What else the scenario checked or observed. */
  notes?: string;
  /** Set when the scenario could not run; the row then says why. */
  skipped?: string;
}

/** Appends a row for the figures reporter (test/faults/support/figures-reporter.js). */
export function recordFigures(row: FigureRow): void {
  mkdirSync(dirname(FIGURES_FILE), { recursive: true });
  appendFileSync(FIGURES_FILE, `${JSON.stringify(row)}\n`);
  const f = row.figures;
  const line = f
    ? `confirmed ${f.confirmed ?? '-'}, processed ${f.processed ?? '-'}, lost ${f.lost ?? '-'}, rejected ${f.rejected ?? '-'}, ` +
      `dup deliveries ${f.duplicatedDeliveries ?? '-'}, dup side effects ${f.duplicateSideEffects ?? '-'}, unexpected ${f.unexpected ?? '-'}, ` +
      `recovery ${f.recoveryMs ?? '-'} ms`
    : row.skipped ?? '';
  process.stdout.write(`[faults] ${row.id} ${row.scenario}: ${line}${row.notes ? ` | ${row.notes}` : ''}\n`);
}

/** Milliseconds since `start`, for durations. */
export function since(start: number): number {
  return Date.now() - start;
}
