// Prints the fault suite's figures table after the run and writes it to test/faults/results/latest.md
// (WARREN_FAULT_RESULTS names another file: the RabbitMQ 4.0 run writes latest-rabbitmq4.md).
// Rows come from test/faults/support/figures.ts (one JSON line per scenario); the result column is
// the outcome of the Jest test that recorded the row.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RUN_DIR = process.env.WARREN_FAULT_RUN_DIR || path.join(ROOT, '.tmp', 'faults');
const FIGURES_FILE = path.join(RUN_DIR, 'figures.jsonl');
const LATEST = path.resolve(ROOT, process.env.WARREN_FAULT_RESULTS || path.join('test', 'faults', 'results', 'latest.md'));
/** Which broker the run was against, as the run's script says it (WARREN_FAULT_BROKER); otherwise the default. */
const BROKER = process.env.WARREN_FAULT_BROKER || 'RabbitMQ at the local broker and throwaway nodes (test/faults/support/cluster.sh)';

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
  ['notes', (r) => (r.skipped ? `SKIPPED: ${r.skipped}` : r.notes)],
];

// Bad-input rows (test/faults/11-bad-input-*): one bad input amid good traffic.
const BAD_INPUT_COLUMNS = [
  ['#', (r) => r.id],
  ['bad input', (r) => r.scenario],
  ['result', (r) => r.result],
  ['the bad one got', (r) => r.badInput.outcome],
  ['in', (r) => (r.badInput.settleMs === undefined ? 'never' : `${r.badInput.settleMs} ms`)],
  ['good confirmed', (r) => `${r.badInput.confirmed}/${r.badInput.good}`],
  ['lost', (r) => r.badInput.lost],
  ['duplicated', (r) => r.badInput.duplicated],
  ['delayed > 1 s', (r) => r.badInput.delayed],
  ['channel reopens', (r) => r.badInput.reopens],
  ['consumers', (r) => r.badInput.consumers],
  ['time', (r) => `${(r.durationMs / 1000).toFixed(1)} s`],
  ['notes', (r) => (r.skipped ? `SKIPPED: ${r.skipped}` : r.notes)],
];

function markdownTable(columns, rows) {
  const header = `| ${columns.map(([name]) => name).join(' | ')} |`;
  const rule = `| ${columns.map(() => '---').join(' | ')} |`;
  const lines = rows.map((row) => `| ${columns.map(([, get]) => cell(get(row))).join(' | ')} |`);
  return [header, rule, ...lines].join('\n');
}

function rejected(f) {
  if (!f || f.rejected === undefined) return undefined;
  const by = Object.entries(f.rejectedBy || {})
    .map(([name, n]) => `${n} ${name}`)
    .join(', ');
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
    let rows;
    try {
      rows = fs
        .readFileSync(FIGURES_FILE, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line));
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
    const faultRows = rows.filter((row) => !row.badInput);
    // From several files; in the order of their ids (1a, 1b, ..., 2a, ..., 6c).
    const badInputRows = rows.filter((row) => row.badInput).sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
    const seconds = ((Date.now() - results.startTime) / 1000).toFixed(0);
    // A scenario that cannot run on this broker returns early (Jest counts it as passed) and records its row as skipped.
    const skippedRows = new Set(rows.filter((row) => row.skipped).map((row) => row.test));
    const passed = results.numPassedTests - skippedRows.size;
    const skipped = results.numPendingTests + skippedRows.size;
    const summary = `${passed} passed, ${results.numFailedTests} failed, ${skipped} skipped; ` + `suite time ${seconds} s`;
    const table = faultRows.length > 0 ? markdownTable(COLUMNS, faultRows) : '';
    const badInputTable = badInputRows.length > 0 ? markdownTable(BAD_INPUT_COLUMNS, badInputRows) : '';
    const faultSection = !table
      ? []
      : [
          table,
          '',
          'lost = confirmed but never processed; dup deliveries = handler runs beyond the first plus redeliveries absorbed by dedup;',
          'dup side effects = side effects performed twice for one message; unexpected = processed but never published;',
          'rejected = publishes that failed with a typed error (never silently dropped), "processed anyway" = of those, the broker had them;',
          'in flight at fault = messages published and not yet processed when the fault began (smallest over the faults);',
          'recovery = from the end of the fault until a publish is confirmed and a handler runs again (largest over the faults).',
          '',
        ];
    const badInputSection = !badInputTable
      ? []
      : [
          '## Bad input',
          '',
          badInputTable,
          '',
          'One bad message, refused publish or throwing hook in the middle of 1,000 good messages (test/faults/11-bad-input-*).',
          'the bad one got = its typed error (class and code), or how its delivery was settled; in = from the bad call until then;',
          'good confirmed = good publishes (or calls) confirmed (or answered) of those sent; lost = confirmed, never processed;',
          'duplicated = good messages handled more than once; delayed = good messages confirmed or handled more than 1 s after they were sent;',
          "channel reopens = the app's channels open before the bad input (publisher, consumers, RPC client, topology) whose broker pid changed or vanished meanwhile;",
          'consumers = consumers on the queue before -> after. Required in every row: a typed error (or a settled delivery with its reason) within',
          '100 ms, and 0 lost, 0 duplicated, 0 delayed, 0 reopens.',
          '',
        ];
    const doc = [
      '# Warren fault suite — latest figures',
      '',
      `Run ${new Date().toISOString()} on ${BROKER}. ${summary}.`,
      '',
      ...faultSection,
      ...badInputSection,
    ].join('\n');
    fs.mkdirSync(path.dirname(LATEST), { recursive: true });
    fs.writeFileSync(LATEST, doc);
    const printed = [table, badInputTable && `Bad input:\n\n${badInputTable}`].filter(Boolean).join('\n\n');
    process.stdout.write(`\nFault suite figures (${summary}):\n\n${printed}\n\nWritten to ${path.relative(ROOT, LATEST)}\n`);
  }
}

module.exports = FiguresReporter;
