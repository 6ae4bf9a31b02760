// Prints the fault suite's figures table after the run and writes it to test/faults/results/latest.md.
// Rows come from test/faults/support/figures.ts (one JSON line per scenario); the result column is
// the outcome of the Jest test that recorded the row.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RUN_DIR = process.env.WARREN_FAULT_RUN_DIR || path.join(ROOT, '.tmp', 'faults');
const FIGURES_FILE = path.join(RUN_DIR, 'figures.jsonl');
const LATEST = path.join(ROOT, 'test', 'faults', 'results', 'latest.md');

const COLUMNS = [
  ['#', (r) => r.id],
  ['scenario', (r) => r.scenario],
  ['result', (r) => r.result],
  ['confirmed', (r) => r.figures && r.figures.confirmed],
  ['rejected', (r) => rejected(r.figures)],
  ['processed', (r) => r.figures && r.figures.processed],
  ['lost', (r) => r.figures && r.figures.lost],
  ['dup deliveries', (r) => r.figures && r.figures.duplicatedDeliveries],
  ['dup side effects', (r) => r.figures && r.figures.duplicateSideEffects],
  ['unexpected', (r) => r.figures && r.figures.unexpected],
  ['in flight at fault', (r) => r.figures && r.figures.inFlightAtFault],
  ['recovery', (r) => (r.figures && r.figures.recoveryMs !== undefined ? `${(r.figures.recoveryMs / 1000).toFixed(2)} s` : undefined)],
  ['time', (r) => `${(r.durationMs / 1000).toFixed(1)} s`],
  ['notes', (r) => r.skipped ? `SKIPPED: ${r.skipped}` : r.notes],
];

function rejected(f) {
  if (!f || f.rejected === undefined) return undefined;
  const by = Object.entries(f.rejectedBy || {}).map(([name, n]) => `${n} ${name}`).join(', ');
  const recovered = f.recovered ? `; ${f.recovered} processed anyway` : '';
  return f.rejected === 0 ? '0' : `${f.rejected} (${by}${recovered})`;
}

function cell(value) {
  return value === undefined || value === null || value === '' ? '–' : String(value).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

class FiguresReporter {
  constructor(globalConfig) {
    this.globalConfig = globalConfig;
  }

  onRunComplete(_contexts, results) {
    let rows = [];
    try {
      rows = fs.readFileSync(FIGURES_FILE, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
    } catch {
      return;
    }
    const outcomes = new Map();
    for (const file of results.testResults) {
      for (const test of file.testResults) outcomes.set(test.fullName, test.status);
    }
    for (const row of rows) {
      const status = outcomes.get(row.test);
      row.result = row.skipped ? 'skipped' : status === 'passed' ? 'pass' : status === 'failed' ? 'FAIL' : status || '?';
    }
    const header = `| ${COLUMNS.map(([name]) => name).join(' | ')} |`;
    const rule = `| ${COLUMNS.map(() => '---').join(' | ')} |`;
    const lines = rows.map((row) => `| ${COLUMNS.map(([, get]) => cell(get(row))).join(' | ')} |`);
    const seconds = ((Date.now() - results.startTime) / 1000).toFixed(0);
    const summary =
      `${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests} skipped; ` +
      `suite time ${seconds} s`;
    const table = [header, rule, ...lines].join('\n');
    const doc = [
      '# Warren fault suite — latest figures',
      '',
      `Run ${new Date().toISOString()} on RabbitMQ at the local broker and throwaway nodes (test/faults/support/cluster.sh). ${summary}.`,
      '',
      table,
      '',
      'lost = confirmed but never processed; dup deliveries = handler runs beyond the first plus redeliveries absorbed by dedup;',
      'dup side effects = side effects performed twice for one message; unexpected = processed but never published;',
      'rejected = publishes that failed with a typed error (never silently dropped), "processed anyway" = of those, the broker had them;',
      'in flight at fault = messages published and not yet processed when the fault began (smallest over the faults);',
      'recovery = from the end of the fault until a publish is confirmed and a handler runs again (largest over the faults).',
      '',
    ].join('\n');
    fs.mkdirSync(path.dirname(LATEST), { recursive: true });
    fs.writeFileSync(LATEST, doc);
    process.stdout.write(`\nFault suite figures (${summary}):\n\n${table}\n\nWritten to ${path.relative(ROOT, LATEST)}\n`);
  }
}

module.exports = FiguresReporter;
