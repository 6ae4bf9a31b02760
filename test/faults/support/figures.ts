import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Figures } from './checker';
import { FIGURES_FILE } from './paths';

/**
 * A row of the bad-input table: one bad message, refused publish or throwing hook sent in the
 * middle of good traffic, what the bad one got, and what happened to everybody else.
 */
export interface BadInputFigures {
  /** What the bad one got: the error's class and code, how its delivery was settled, or "still pending". */
  outcome: string;
  /** ms from the bad call (or publish) until it was rejected or settled; undefined if it never was. */
  settleMs?: number;
  /** Good messages (or calls) sent around it, and of those confirmed (or answered). */
  good: number;
  confirmed: number;
  /** Good ones confirmed and never processed. */
  lost: number;
  /** Good ones whose handler ran more than once. */
  duplicated: number;
  /** Good ones confirmed or processed more than 1 s after they were sent. */
  delayed: number;
  /** The app's channels open before it (publisher, consumers, RPC client, topology) that closed while it ran: their broker pid changed or vanished. */
  reopens: number;
  /** Consumers on the scenario's queue before -> after. */
  consumers?: string;
}

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
  /** Set for the bad-input scenarios: the row goes in the "bad input" table instead. */
  badInput?: BadInputFigures;
}

/** Appends a row for the figures reporter (test/faults/support/figures-reporter.js). */
export function recordFigures(row: FigureRow): void {
  mkdirSync(dirname(FIGURES_FILE), { recursive: true });
  appendFileSync(FIGURES_FILE, `${JSON.stringify(row)}\n`);
  const f = row.figures;
  const b = row.badInput;
  const line = b
    ? `bad one: ${b.outcome}${b.settleMs === undefined ? '' : ` in ${b.settleMs} ms`}; good ${b.confirmed}/${b.good} confirmed, lost ${b.lost}, ` +
      `duplicated ${b.duplicated}, delayed ${b.delayed}, channel reopens ${b.reopens}, consumers ${b.consumers ?? '-'}`
    : f
      ? `confirmed ${f.confirmed ?? '-'}, processed ${f.processed ?? '-'}, lost ${f.lost ?? '-'}, rejected ${f.rejected ?? '-'}, ` +
        `dup deliveries ${f.duplicatedDeliveries ?? '-'}, dup side effects ${f.duplicateSideEffects ?? '-'}, unexpected ${f.unexpected ?? '-'}, ` +
        `recovery ${f.recoveryMs ?? '-'} ms`
      : (row.skipped ?? '');
  process.stdout.write(`[faults] ${row.id} ${row.scenario}: ${line}${row.notes ? ` | ${row.notes}` : ''}\n`);
}

/** Milliseconds since `start`, for durations. */
export function since(start: number): number {
  return Date.now() - start;
}
