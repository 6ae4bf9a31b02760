/**
 * Turns trial results into the summary (medians and same-round ratios), and
 * the summary into markdown, JSON and an SVG bar chart. Pure functions: no
 * I/O, no library loaded.
 */
import { CONTENDER_NAMES, ContenderName, DeclaredSettings } from './contender';
import { ALL_SCENARIOS, CORE_SCENARIOS, Mode, ScenarioName, SCENARIOS, ScenarioSpec } from './scenarios/scenario-catalog';
import { median, pairedRatios } from './stats';
import type { TrialResult } from './trial-result';
import type { WireObservation } from './support/wire-probe';
import type { LeftoverReport } from './support/leftover-sweeper';

/** A trial result with its place in the schedule. */
export interface TrialRecord extends TrialResult {
  round: number;
  /** Position of the contender in this round's rotation (0 = ran first). */
  order: number;
  namePrefix: string;
}

export interface SummaryRow {
  scenario: ScenarioName;
  contender: ContenderName;
  /** Rounds with a successful trial. */
  okRounds: number;
  errors: number;
  skipped: number;
  reasons: string[];
  /** Medians over rounds, by metric key (catalog metric and extras). */
  medians: Record<string, number>;
  /** What `ratios` compare against, e.g. "amqplib" or "consume (plain)"; undefined: no reference. */
  reference?: string;
  /** Median of same-round ratios subject / reference, by metric key. */
  ratios: Record<string, number>;
  cpuUsPerOp: number;
  cpuRatio?: number;
  /** Median of same-round differences of CPU µs per operation (subject - reference). */
  cpuDeltaUsPerOp?: number;
  peakRssMb: number;
  truncated: boolean;
  settings?: DeclaredSettings;
  observed?: WireObservation;
}

export interface RunMeta {
  startedAt: string;
  finishedAt: string;
  durationS: number;
  mode: Mode;
  rounds: number;
  brokerUrl: string;
  brokerVersion?: string;
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  versions: Record<string, string>;
  contenders: ContenderName[];
  scenarios: ScenarioName[];
}

export interface RunReport {
  meta: RunMeta;
  warren: { available: boolean; reason?: string; build: { ran: boolean; ok: boolean; output?: string } };
  summary: SummaryRow[];
  trials: TrialRecord[];
  leftovers: LeftoverReport;
  totals: { trials: number; ok: number; errors: number; skipped: number };
}

interface Reference {
  scenario: ScenarioName;
  contender: ContenderName;
  label: string;
}

/**
 * What a row is compared to: raw amqplib for the core scenarios, plain consume for retry+dedup,
 * batch consume and partitioned consume, nothing for the outbox (its row holds its own comparison,
 * publish after commit), golevelup for the other Warren-only ones.
 */
export function referenceOf(scenario: ScenarioName, contender: ContenderName): Reference | undefined {
  const spec = SCENARIOS[scenario];
  if (scenario === 'outbox') return undefined;
  if (spec.kind === 'core') return contender === 'amqplib' ? undefined : { scenario, contender: 'amqplib', label: 'amqplib' };
  if (scenario === 'consume-retry-dedup' || scenario === 'consume-batch' || scenario === 'consume-partitioned' || scenario === 'consume-partitioned-scale')
    return { scenario: 'consume', contender, label: `${contender} plain consume` };
  return contender === 'golevelup' ? undefined : { scenario, contender: 'golevelup', label: 'golevelup' };
}

function metricKeys(spec: ScenarioSpec): string[] {
  return [spec.metric.key, ...spec.extra.map((m) => m.key)];
}

/** Per round: the value of `pick` for the ok trial of (scenario, contender), or undefined. */
function byRound(
  trials: readonly TrialRecord[],
  rounds: number,
  scenario: ScenarioName,
  contender: ContenderName,
  pick: (t: TrialRecord) => number | undefined,
): (number | undefined)[] {
  const values: (number | undefined)[] = Array.from({ length: rounds }, () => undefined);
  for (const t of trials) {
    if (t.scenario === scenario && t.contender === contender && t.status === 'ok' && t.round < rounds) values[t.round] = pick(t);
  }
  return values;
}

function defined(values: readonly (number | undefined)[]): number[] {
  return values.filter((v): v is number => v !== undefined);
}

export function summarizeTrials(
  trials: readonly TrialRecord[],
  rounds: number,
  scenarios: readonly ScenarioName[],
  contenders: readonly ContenderName[],
): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const scenario of scenarios) {
    const spec = SCENARIOS[scenario];
    for (const contender of spec.contenders) {
      if (!contenders.includes(contender)) continue;
      const mine = trials.filter((t) => t.scenario === scenario && t.contender === contender);
      if (mine.length === 0) continue;
      const ok = mine.filter((t) => t.status === 'ok');
      const ref = referenceOf(scenario, contender);
      const medians: Record<string, number> = {};
      const ratios: Record<string, number> = {};
      for (const key of metricKeys(spec)) {
        const values = byRound(trials, rounds, scenario, contender, (t) => t.outcome?.metrics[key]);
        medians[key] = median(defined(values));
        if (ref) {
          const refValues = byRound(trials, rounds, ref.scenario, ref.contender, (t) => t.outcome?.metrics[key]);
          const r = median(pairedRatios(values, refValues));
          if (Number.isFinite(r)) ratios[key] = r;
        }
      }
      const cpu = byRound(trials, rounds, scenario, contender, (t) => t.outcome?.cpuUsPerOp);
      const row: SummaryRow = {
        scenario,
        contender,
        okRounds: ok.length,
        errors: mine.filter((t) => t.status === 'error').length,
        skipped: mine.filter((t) => t.status === 'skipped').length,
        reasons: [...new Set(mine.filter((t) => t.status !== 'ok').map((t) => `${t.status}: ${t.reason ?? 'no reason given'}`))],
        medians,
        ratios,
        cpuUsPerOp: median(defined(cpu)),
        peakRssMb: median(ok.map((t) => t.peakRssMb)),
        truncated: ok.some((t) => t.outcome?.truncated),
        settings: ok[ok.length - 1]?.outcome?.settings,
        observed: ok[ok.length - 1]?.observed,
      };
      if (ref) {
        row.reference = ref.label;
        const refCpu = byRound(trials, rounds, ref.scenario, ref.contender, (t) => t.outcome?.cpuUsPerOp);
        const cpuRatio = median(pairedRatios(cpu, refCpu));
        if (Number.isFinite(cpuRatio)) row.cpuRatio = cpuRatio;
        const deltas: number[] = [];
        cpu.forEach((v, i) => {
          const r = refCpu[i];
          if (v !== undefined && r !== undefined) deltas.push(v - r);
        });
        const delta = median(deltas);
        if (Number.isFinite(delta)) row.cpuDeltaUsPerOp = delta;
      }
      rows.push(row);
    }
  }
  return rows;
}

// ---------------------------------------------------------------- formatting

export function formatNumber(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function formatRatio(ratio: number | undefined): string {
  return ratio === undefined || !Number.isFinite(ratio) ? '' : ` (${ratio.toFixed(2)}×)`;
}

function findRow(rows: readonly SummaryRow[], scenario: ScenarioName, contender: ContenderName): SummaryRow | undefined {
  return rows.find((r) => r.scenario === scenario && r.contender === contender);
}

/**
 * Whether `row` published the way the amqplib reference did in the same
 * scenario (confirms awaited, persistent). False marks a comparison that is
 * not like-for-like (‡).
 */
export function likeForLike(rows: readonly SummaryRow[], row: SummaryRow): boolean {
  if (SCENARIOS[row.scenario].kind !== 'core' || row.contender === 'amqplib') return true;
  const ref = findRow(rows, row.scenario, 'amqplib')?.settings;
  const mine = row.settings;
  if (!ref || !mine) return true;
  return ref.confirms === mine.confirms && ref.persistent === mine.persistent;
}

/** A table cell: the median, the ratio, and markers (truncated, not like-for-like); or why there is none. */
function cell(row: SummaryRow | undefined, value: number | undefined, ratio: number | undefined, rows: readonly SummaryRow[] = []): string {
  if (!row) return 'n/a';
  if (row.okRounds === 0) return row.errors > 0 ? '**error**' : 'skipped';
  const flags = `${row.truncated ? ' †' : ''}${likeForLike(rows, row) ? '' : ' ‡'}${row.errors > 0 ? ` (${row.errors} err)` : ''}`;
  return `${formatNumber(value)}${formatRatio(ratio)}${flags}`;
}

function yesNo(value: boolean | null | undefined): string {
  if (value === null || value === undefined) return '—';
  return value ? 'yes' : 'no';
}

function pct(n: number, d: number): string {
  return d === 0 ? '—' : `${Math.round((100 * n) / d)}%`;
}

/** "confirms awaited: yes · 100% on a confirm channel · 100% persistent" for one scenario's row. */
function publishFacts(row: SummaryRow | undefined): string {
  if (!row?.observed || !row.settings) return row ? cell(row, undefined, undefined) : 'n/a';
  const o = row.observed;
  return `awaited: ${yesNo(row.settings.confirms)} · confirm channel ${pct(o.publishedOnConfirmChannel, o.published)} · persistent ${pct(o.publishedPersistent, o.published)}`;
}

function settingsLine(rows: readonly SummaryRow[], contender: ContenderName): string[] {
  const of = (s: ScenarioName) => findRow(rows, s, contender);
  const core = CORE_SCENARIOS.map(of).filter((r): r is SummaryRow => r?.observed !== undefined);
  if (core.length === 0) return [contender, '—', '—', '—', '—', '—'];
  const noDelay = core.flatMap((r) => r.observed!.noDelay);
  const consumers = core.filter((r) => r.scenario !== 'publish');
  const prefetch = [...new Set(consumers.flatMap((r) => r.observed!.prefetch))].sort((a, b) => a - b);
  const withAcks = consumers.reduce((n, r) => n + r.observed!.consumersWithAcks, 0);
  const noAck = consumers.reduce((n, r) => n + r.observed!.consumersNoAck, 0);
  const acks = consumers.reduce((n, r) => n + r.observed!.acks, 0);
  return [
    contender,
    publishFacts(of('publish')),
    publishFacts(of('rpc-seq') ?? of('rpc-conc')),
    `${noDelay.filter(Boolean).length}/${noDelay.length} connections`,
    prefetch.length ? prefetch.join(', ') : '—',
    noAck === 0 ? `yes: ${withAcks} consumers, ${acks.toLocaleString('en-US')} acks` : `${withAcks} with acks, ${noAck} noAck`,
  ];
}

function table(header: string[], aligns: ('l' | 'r')[], body: string[][]): string {
  const lines = [`| ${header.join(' | ')} |`, `|${aligns.map((a) => (a === 'r' ? ' ---: ' : ' --- ')).join('|')}|`];
  for (const row of body) lines.push(`| ${row.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
  return lines.join('\n');
}

export function renderMarkdown(report: RunReport): string {
  const { meta, summary } = report;
  const contenders = CONTENDER_NAMES.filter((c) => meta.contenders.includes(c));
  const core = CORE_SCENARIOS.filter((s) => meta.scenarios.includes(s));
  const out: string[] = [];

  out.push(`# Warren benchmark — ${meta.mode} run, ${meta.startedAt}`);
  out.push('');
  out.push(
    `RabbitMQ ${meta.brokerVersion ?? '?'} at ${meta.brokerUrl} · Node ${meta.node} · ${meta.platform} · ${meta.cpus} CPU (${meta.cpuModel}) · ` +
      `${meta.rounds} round(s) · ${Math.round(meta.durationS)} s · ${report.totals.trials} trials: ${report.totals.ok} ok, ${report.totals.errors} failed, ${report.totals.skipped} skipped`,
  );
  out.push('');
  out.push(
    `Versions: ${Object.entries(meta.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
  );
  out.push('');
  out.push(
    '- Every trial runs in a fresh child process; contenders are interleaved round by round in rotating order (A B C …, then B C … A, …).',
    '- Values are medians over rounds. **(n×)** is the median of same-round ratios to **amqplib**, the reference: the tightest correct raw amqplib client, which also sends the frames of one turn of the event loop in one socket write (for ↓ metrics below 1 is better). **amqplib-plain** is the same client without that: raw amqplib as its API gives it, one system call per frame.',
    '- Same settings for all: 1 KB JSON, persistent messages, durable queues, publisher confirms where the library has them, prefetch 50, TCP_NODELAY. What each actually did is in "Settings actually used".',
    '- **Client CPU** = user + system CPU of the trial process over the measured window ÷ operations. For RPC the client *and the server* run in the trial process, so it covers both ends.',
    '- **Peak RSS** = `process.resourceUsage().maxRSS` of the trial process (its whole life, start-up included).',
    '- † = the time budget ran out before the full count; fewer operations were measured (not an error).',
    '- ‡ = not like-for-like: this contender did not publish with the same confirms/persistence as the amqplib reference in that scenario (see "Settings actually used").',
    `- Sizes (${meta.mode}): ${meta.scenarios
      .map((sc) => {
        const z = SCENARIOS[sc].sizing[meta.mode];
        return `${sc} ${z.count.toLocaleString('en-US')} ${SCENARIOS[sc].op}s${z.warmup ? ` (+${z.warmup.toLocaleString('en-US')} warm-up)` : ''}`;
      })
      .join(', ')}.`,
  );
  if (meta.contenders.includes('warren') && !report.warren.available) out.push(`- **warren skipped**: ${report.warren.reason ?? 'unavailable'}`);
  out.push('');

  if (core.length) {
    out.push('## Throughput and latency');
    out.push('');
    const body: string[][] = [];
    for (const scenario of core) {
      const spec = SCENARIOS[scenario];
      for (const [i, m] of [spec.metric, ...spec.extra].entries()) {
        body.push([
          i === 0 ? spec.title : '',
          `${m.label} ${m.higherIsBetter ? '↑' : '↓'}`,
          ...contenders.map((c) => {
            const row = findRow(summary, scenario, c);
            return cell(row, row?.medians[m.key], row?.ratios[m.key], summary);
          }),
        ]);
      }
    }
    out.push(table(['scenario', 'metric', ...contenders], ['l', 'l', ...contenders.map(() => 'r' as const)], body));
    out.push('');

    out.push('## Client CPU per operation (µs ↓)');
    out.push('');
    out.push(
      table(
        ['scenario', ...contenders],
        ['l', ...contenders.map(() => 'r' as const)],
        core.map((scenario) => [
          `${SCENARIOS[scenario].title} (per ${SCENARIOS[scenario].op})`,
          ...contenders.map((c) => {
            const row = findRow(summary, scenario, c);
            return cell(row, row?.cpuUsPerOp, row?.cpuRatio, summary);
          }),
        ]),
      ),
    );
    out.push('');

    out.push('## Peak RSS of the trial process (MB ↓)');
    out.push('');
    out.push(
      table(
        ['scenario', ...contenders],
        ['l', ...contenders.map(() => 'r' as const)],
        core.map((scenario) => [
          SCENARIOS[scenario].title,
          ...contenders.map((c) => {
            const row = findRow(summary, scenario, c);
            return cell(row, row?.peakRssMb, undefined);
          }),
        ]),
      ),
    );
    out.push('');

    out.push('## Settings actually used (observed on the wire by the trial)');
    out.push('');
    out.push(
      'Counted by patching amqplib in the trial process (every contender uses it underneath), over each contender\'s core trials; the benchmark\'s own pre-fill/probe connection is excluded. "awaited" is whether the call waits for the confirm.',
    );
    out.push('');
    out.push(
      table(
        ['contender', 'publish (confirms, persistent)', 'RPC requests (confirms, persistent)', 'TCP_NODELAY', 'prefetch (basic.qos seen)', 'consumer acks'],
        ['l', 'l', 'l', 'l', 'l', 'l'],
        contenders.map((c) => settingsLine(summary, c)),
      ),
    );
    out.push('');
    const notes = contenders.flatMap((c) => {
      const all = [...new Set(summary.filter((r) => r.contender === c && r.settings).flatMap((r) => r.settings!.notes))];
      return all.length ? [`- **${c}**: ${all.join('; ')}.`] : [];
    });
    if (notes.length) out.push(...notes, '');
  }

  const warrenScenarios = meta.scenarios.filter((s) => SCENARIOS[s].kind === 'warren' && summary.some((r) => r.scenario === s));
  if (warrenScenarios.length) {
    out.push('## Warren-only scenarios');
    out.push('');
    out.push('golevelup runs the same code where its API allows, as a reference; ratios are to it (to plain consume for retry + dedup and for batch consume).');
    out.push('');
    const cols: ContenderName[] = ['warren', 'golevelup'];
    const body: string[][] = [];
    for (const scenario of warrenScenarios) {
      const spec = SCENARIOS[scenario];
      for (const [i, m] of [spec.metric, ...spec.extra].entries()) {
        body.push([
          i === 0 ? spec.title : '',
          `${m.label} ${m.higherIsBetter ? '↑' : '↓'}`,
          ...cols.map((c) => {
            const row = findRow(summary, scenario, c);
            return cell(row, row?.medians[m.key], row?.ratios[m.key]);
          }),
        ]);
      }
      if (
        scenario === 'consume-retry-dedup' ||
        scenario === 'consume-batch' ||
        scenario === 'consume-partitioned' ||
        scenario === 'consume-partitioned-scale'
      ) {
        const row = findRow(summary, scenario, 'warren');
        const delta = row?.cpuDeltaUsPerOp;
        body.push([
          '',
          'CPU overhead µs/msg vs plain ↓',
          row && row.okRounds ? `${delta !== undefined && delta >= 0 ? '+' : ''}${formatNumber(delta)}` : cell(row, undefined, undefined),
          'n/a',
        ]);
      } else {
        body.push([
          '',
          `client CPU µs/${spec.op} ↓`,
          ...cols.map((c) => {
            const row = findRow(summary, scenario, c);
            return cell(row, row?.cpuUsPerOp, row?.cpuRatio);
          }),
        ]);
      }
    }
    out.push(table(['scenario', 'metric', ...cols], ['l', 'l', 'r', 'r'], body));
    out.push('');
  }

  const problems = report.trials.filter((t) => t.status !== 'ok');
  if (problems.length) {
    out.push('## Failed and skipped trials');
    out.push('');
    const seen = new Set<string>();
    for (const t of problems) {
      const line = `- ${t.status === 'error' ? '**failed**' : 'skipped'} ${t.scenario} / ${t.contender}: ${t.reason ?? ''}`;
      const key = `${t.status}|${t.contender}|${t.reason}`;
      if (t.status === 'skipped' && seen.has(key)) continue;
      seen.add(key);
      out.push(t.status === 'error' ? `${line} (round ${t.round + 1})` : line);
    }
    out.push('');
  }

  const warnings = report.trials.flatMap((t) => t.warnings.map((w) => `${t.scenario} / ${t.contender}: ${w}`));
  if (warnings.length) {
    out.push('<details><summary>Warnings (not failures)</summary>', '');
    for (const w of [...new Set(warnings)].slice(0, 40)) out.push(`- ${w}`);
    out.push('', '</details>', '');
  }

  const lo = report.leftovers;
  if (!lo.checked) out.push(`Leftover check not done: ${lo.note ?? 'rabbitmqctl unavailable'}.`);
  else {
    out.push(
      `Queues/exchanges of this run left on the broker after the trials: ${lo.found.length === 0 ? 'none' : `${lo.found.length}, deleted ${lo.deleted}`}.`,
    );
    const shared = [...lo.sharedCreated, ...lo.sharedReused];
    if (shared.length) {
      out.push(
        `Shared topology the contenders declared under fixed names (not deleted: other applications may use it): ${shared.join(', ')}` +
          `${lo.sharedCreated.length ? `; first created by this run: ${lo.sharedCreated.join(', ')}` : ''}.`,
      );
    }
  }
  out.push('');
  return out.join('\n');
}

// ---------------------------------------------------------------------- SVG

const COLORS: Record<ContenderName, string> = {
  amqplib: '#7f8c8d',
  'amqplib-plain': '#bdc3c7',
  warren: '#d35400',
  golevelup: '#2980b9',
  'nest-rmq': '#c0392b',
};

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Grouped bars of speed relative to amqplib (amqplib = 1, higher is better):
 * throughput ratios as they are, latency ratios inverted.
 */
export function renderSvg(report: RunReport): string {
  const contenders = CONTENDER_NAMES.filter((c) => report.meta.contenders.includes(c));
  const groups: { label: string; scenario: ScenarioName; key: string; invert: boolean }[] = [];
  for (const scenario of CORE_SCENARIOS.filter((s) => report.meta.scenarios.includes(s))) {
    const spec = SCENARIOS[scenario];
    for (const m of [spec.metric, ...spec.extra]) {
      groups.push({ label: `${scenario} ${m.label}`, scenario, key: m.key, invert: !m.higherIsBetter });
    }
  }
  const value = (scenario: ScenarioName, c: ContenderName, key: string, invert: boolean): number | undefined => {
    if (c === 'amqplib') return findRow(report.summary, scenario, c)?.okRounds ? 1 : undefined;
    const r = findRow(report.summary, scenario, c)?.ratios[key];
    if (r === undefined || !Number.isFinite(r) || r <= 0) return undefined;
    return invert ? 1 / r : r;
  };
  const all = groups.flatMap((g) => contenders.map((c) => value(g.scenario, c, g.key, g.invert) ?? 0));
  const yMax = Math.max(1.25, Math.ceil(Math.max(...all, 0) * 1.15 * 4) / 4);

  const width = Math.max(640, 110 + groups.length * (contenders.length * 22 + 34));
  const height = 400;
  const left = 56;
  const right = 16;
  const top = 56;
  const bottom = 84;
  const plotH = height - top - bottom;
  const plotW = width - left - right;
  const groupW = plotW / Math.max(1, groups.length);
  const barW = Math.min(22, (groupW - 20) / contenders.length);
  const y = (v: number) => top + plotH - (v / yMax) * plotH;

  const parts: string[] = [];
  let anyMark = false;
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="${left}" y="20" font-size="14" font-weight="bold">Speed relative to raw amqplib (amqplib = 1, higher is better)</text>`);
  parts.push(
    `<text x="${left}" y="36" fill="#555">${escapeXml(`${report.meta.mode} run, ${report.meta.rounds} round(s), median of same-round ratios; latency ratios inverted. ${report.meta.startedAt}`)}</text>`,
  );

  for (let tick = 0; tick <= yMax + 1e-9; tick += yMax > 3 ? 1 : 0.25) {
    const ty = y(tick);
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${ty.toFixed(1)}" y2="${ty.toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 6}" y="${(ty + 4).toFixed(1)}" text-anchor="end" fill="#555">${tick.toFixed(2)}</text>`);
  }
  parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(1).toFixed(1)}" y2="${y(1).toFixed(1)}" stroke="#333" stroke-dasharray="4 3"/>`);

  groups.forEach((g, gi) => {
    const gx = left + gi * groupW + (groupW - barW * contenders.length) / 2;
    contenders.forEach((c, ci) => {
      const v = value(g.scenario, c, g.key, g.invert);
      const x = gx + ci * barW;
      if (v === undefined) {
        parts.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${(y(0) - 4).toFixed(1)}" text-anchor="middle" fill="#999" font-size="9">n/a</text>`);
        return;
      }
      const by = y(v);
      const row = findRow(report.summary, g.scenario, c);
      const mark = row && !likeForLike(report.summary, row) ? '‡' : '';
      if (mark) anyMark = true;
      parts.push(
        `<rect x="${(x + 1).toFixed(1)}" y="${by.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(y(0) - by).toFixed(1)}" fill="${COLORS[c]}"><title>${escapeXml(`${c} ${g.label}: ${v.toFixed(2)}`)}</title></rect>`,
      );
      parts.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${(by - 3).toFixed(1)}" text-anchor="middle" font-size="9">${v.toFixed(2)}${mark}</text>`);
    });
    const lx = left + gi * groupW + groupW / 2;
    parts.push(`<text x="${lx.toFixed(1)}" y="${(y(0) + 16).toFixed(1)}" text-anchor="middle">${escapeXml(g.label)}</text>`);
  });

  const ly = height - 34;
  contenders.forEach((c, i) => {
    const lx = left + i * 120;
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="12" height="12" fill="${COLORS[c]}"/>`);
    parts.push(`<text x="${lx + 17}" y="${ly + 1}">${escapeXml(c)}</text>`);
  });
  if (anyMark) {
    parts.push(
      `<text x="${left}" y="${height - 10}" fill="#555" font-size="10">‡ not like-for-like: published without the confirms/persistence the amqplib reference used (see the report).</text>`,
    );
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Scenarios in catalog order, restricted to `names`. */
export function orderedScenarios(names: readonly ScenarioName[]): ScenarioName[] {
  return ALL_SCENARIOS.filter((s) => names.includes(s));
}
