/**
 * The orchestrator: `npm run bench [-- --quick] [options]`.
 *
 * Builds the Warren library (skips the warren contender if it does not
 * build), plans rounds of trials with contenders interleaved in rotating
 * order, runs every trial in a fresh child process (bench/dist/trial.js),
 * then writes bench/results/latest.{md,json,svg} (rabbitmq4.* against RabbitMQ 4) plus timestamped copies and
 * prints the markdown. Exits non-zero only on real failures (a trial that
 * crashed, lost or left unacked messages, or an unreachable broker); slowness
 * only truncates trials.
 */
import { spawn, spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as amqp from 'amqplib';
import { CONTENDER_NAMES, ContenderName } from './contender';
import { orderedScenarios, renderMarkdown, renderSvg, RunReport, summarizeTrials, TrialRecord } from './report';
import { TrialParams } from './scenarios/scenario';
import { ALL_SCENARIOS, CORE_SCENARIOS, Mode, PREFETCH, ScenarioName, SCENARIOS, TRIAL_OVERHEAD_MS, WARREN_SCENARIOS } from './scenarios/scenario-catalog';
import { assertLoopbackUrl, DEFAULT_AMQP_URL, maskUrl } from './support/broker-url';
import { snapshotBrokerNames, sweepLeftovers } from './support/leftover-sweeper';
import { Planned, planTrials } from './schedule';
import { RESULT_MARKER, TrialResult } from './trial-result';

const ROOT = path.resolve(__dirname, '..', '..');
const TRIAL_JS = path.join(__dirname, 'trial.js');
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
const KEEP_OUTPUT_CHARS = 16_000;

interface Options {
  mode: Mode;
  rounds: number;
  contenders: ContenderName[];
  scenarios: ScenarioName[];
  build: boolean;
  maxMinutes: number;
  url: string;
}

const USAGE = `Usage: npm run bench [-- options]

  --quick                 smaller counts, 1 round (a smoke check, about a minute)
  --rounds N              rounds of every scenario (default 3, or 1 with --quick)
  --contenders a,b        subset of: ${CONTENDER_NAMES.join(', ')}
  --scenarios x,y         subset of: ${ALL_SCENARIOS.join(', ')} (or "core", "warren")
  --no-build              do not run \`npm run build\` (the Warren library) first
  --max-minutes N         skip the trials left after N minutes (default 20, or 6 with --quick)
  --help

Broker: AMQP_URL (default ${DEFAULT_AMQP_URL}); loopback hosts only.
Results: bench/results/latest.{md,json,svg} (a full run of everything; rabbitmq4.{md,json,svg} when the broker is RabbitMQ 4;
quick and partial runs write latest-quick / latest-partial) and timestamped copies.`;

function parseArgs(argv: string[]): Options {
  const opts: Partial<Options> & { build: boolean } = { build: true };
  let rounds: number | undefined;
  let maxMinutes: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--quick':
        opts.mode = 'quick';
        break;
      case '--rounds':
        rounds = Number(value());
        if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error('--rounds must be an integer from 1 to 20');
        break;
      case '--contenders': {
        const list = value()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        const unknown = list.filter((c) => !CONTENDER_NAMES.includes(c as ContenderName));
        if (unknown.length) throw new Error(`unknown contender(s): ${unknown.join(', ')}`);
        opts.contenders = list as ContenderName[];
        break;
      }
      case '--scenarios': {
        const list = value()
          .split(',')
          .map((s) => s.trim())
          .flatMap((s) => (s === 'core' ? [...CORE_SCENARIOS] : s === 'warren' ? [...WARREN_SCENARIOS] : s ? [s] : []));
        const unknown = list.filter((s) => !ALL_SCENARIOS.includes(s as ScenarioName));
        if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}`);
        opts.scenarios = orderedScenarios(list as ScenarioName[]);
        break;
      }
      case '--no-build':
        opts.build = false;
        break;
      case '--max-minutes':
        maxMinutes = Number(value());
        if (!(maxMinutes > 0)) throw new Error('--max-minutes must be a positive number');
        break;
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument "${arg}"\n\n${USAGE}`);
    }
  }
  const mode = opts.mode ?? 'full';
  const url = process.env.AMQP_URL || DEFAULT_AMQP_URL;
  assertLoopbackUrl(url);
  return {
    mode,
    rounds: rounds ?? (mode === 'quick' ? 1 : 3),
    contenders: opts.contenders ?? [...CONTENDER_NAMES],
    scenarios: opts.scenarios ?? [...ALL_SCENARIOS],
    build: opts.build,
    maxMinutes: maxMinutes ?? (mode === 'quick' ? 6 : 20),
    url,
  };
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function tail(text: string, lines: number): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

async function brokerVersion(url: string): Promise<string> {
  const connection = await Promise.race([
    amqp.connect(url, { clientProperties: { connection_name: 'warren-bench-check' } }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out after 10 s')), 10_000).unref()),
  ]);
  const reported = (connection.connection.serverProperties as { version?: unknown }).version;
  const version = typeof reported === 'string' ? reported : '?';
  await connection.close();
  return version;
}

function packageVersion(name: string): string {
  for (const dir of [path.join(ROOT, 'node_modules', name), name === '@warren/rabbitmq' ? path.join(ROOT, 'libs', 'rabbitmq') : '']) {
    if (!dir) continue;
    try {
      return (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      // try the next place
    }
  }
  return '?';
}

/** `npm run build` at the root (the Warren library). */
function buildWarren(): { ok: boolean; output: string } {
  log('Building the Warren library (npm run build) ...');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const res = spawnSync(npm, ['run', 'build', '--silent'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  const output = `${res.stdout ?? ''}${res.stderr ?? ''}${res.error ? String(res.error) : ''}`;
  return { ok: res.status === 0, output: tail(output, 30) };
}

/** Runs one child; never rejects. */
function runChild(
  contender: ContenderName,
  scenario: ScenarioName | 'check',
  params: TrialParams | Record<string, never>,
  killAfterMs: number,
): Promise<TrialResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    // BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles every trial.
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, '--expose-gc', TRIAL_JS, contender, scenario, JSON.stringify(params)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    });
    let stdout = '';
    let stderr = '';
    let resultLine: string | undefined;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const at = stdout.indexOf(RESULT_MARKER);
      if (resultLine === undefined && at >= 0) {
        const end = stdout.indexOf('\n', at);
        if (end >= 0) resultLine = stdout.slice(at + RESULT_MARKER.length, end);
      }
      if (resultLine === undefined && stdout.length > 4 * KEEP_OUTPUT_CHARS) stdout = stdout.slice(-KEEP_OUTPUT_CHARS);
    });
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-KEEP_OUTPUT_CHARS);
    });
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, killAfterMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (resultLine !== undefined) {
        try {
          resolve(JSON.parse(resultLine) as TrialResult);
          return;
        } catch {
          // fall through: report as a crash
        }
      }
      const why = killed ? `killed after ${Math.round(killAfterMs / 1000)} s without a result` : `exited (code ${code}, signal ${signal}) without a result`;
      resolve({
        contender,
        scenario,
        status: 'error',
        reason: `trial process ${why}${stderr.trim() ? `; stderr: ${tail(stderr, 6)}` : ''}`,
        peakRssMb: Number.NaN,
        wallMs: Date.now() - started,
        warnings: [],
      });
    });
  });
}

function progressLine(done: number, total: number, p: Planned, r: TrialResult): string {
  const head = `[${String(done).padStart(String(total).length)}/${total}] round ${p.round + 1} · ${p.scenario} · ${p.contender}`;
  if (r.status !== 'ok' || !r.outcome) return `${head}: ${r.status.toUpperCase()} ${r.reason ?? ''}`;
  const spec = SCENARIOS[p.scenario];
  const m = r.outcome.metrics;
  const fmt = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '—' : v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2));
  const extras = spec.extra.map((e) => `${fmt(m[e.key])} ${e.label}`).join(' · ');
  return (
    `${head}: ${fmt(m[spec.metric.key])} ${spec.metric.label}${extras ? ` · ${extras}` : ''} · ${fmt(r.outcome.cpuUsPerOp)} µs CPU/${spec.op}` +
    ` · ${fmt(r.peakRssMb)} MB · ${(r.wallMs / 1000).toFixed(1)} s${r.outcome.truncated ? ' · TRUNCATED by time budget' : ''}`
  );
}

function writeResults(report: RunReport, markdown: string, svg: string): string[] {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = report.meta.startedAt.replace(/[:.]/g, '-');
  const files: string[] = [];
  // Only a full run of everything is "the latest table" the README links; quick and partial runs keep their own.
  const complete = report.meta.contenders.length === CONTENDER_NAMES.length && report.meta.scenarios.length === ALL_SCENARIOS.length;
  // A full run against RabbitMQ 4 is a table of its own beside the default broker's.
  const table = report.meta.brokerVersion?.startsWith('4.') ? 'rabbitmq4' : 'latest';
  const latest = report.meta.mode === 'full' && complete ? table : `latest-${complete ? report.meta.mode : 'partial'}`;
  for (const base of [latest, `${stamp}-${report.meta.mode}`]) {
    for (const [ext, content] of [
      ['json', `${JSON.stringify(report, null, 2)}\n`],
      ['md', markdown],
      ['svg', svg],
    ] as const) {
      const file = path.join(RESULTS_DIR, `${base}.${ext}`);
      fs.writeFileSync(file, content);
      files.push(path.relative(ROOT, file));
    }
  }
  return files;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const runDeadline = Date.now() + opts.maxMinutes * 60_000;
  const runPrefix = `bench-${startedAt.getTime().toString(36)}-${randomBytes(2).toString('hex')}`;

  log(`Warren benchmark: ${opts.mode} run, ${opts.rounds} round(s), broker ${maskUrl(opts.url)}`);
  const namesBefore = await snapshotBrokerNames();
  let version: string;
  try {
    version = await brokerVersion(opts.url);
  } catch (err) {
    log(`Cannot reach the broker at ${maskUrl(opts.url)}: ${(err as Error).message}`);
    return 2;
  }

  // Warren: build it, then check it loads and has the API the contender needs.
  const warren: RunReport['warren'] = { available: false, build: { ran: false, ok: false } };
  if (opts.contenders.includes('warren')) {
    if (opts.build) {
      const built = buildWarren();
      warren.build = { ran: true, ok: built.ok, output: built.output };
      if (!built.ok) warren.reason = `the library does not build (npm run build failed): ${tail(built.output, 3).replace(/\n/g, ' | ')}`;
    } else warren.build = { ran: false, ok: true };
    if (warren.build.ok) {
      const check = await runChild('warren', 'check', {}, 60_000);
      warren.available = check.status === 'ok';
      if (!warren.available) warren.reason = check.reason;
    }
    log(warren.available ? 'warren: available' : `warren: SKIPPED — ${warren.reason}`);
  }

  const plan = planTrials(opts.rounds, opts.scenarios, opts.contenders);
  const trials: TrialRecord[] = [];
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    log('Interrupted: finishing the current trial, then cleaning up.');
  });

  log(`${plan.length} trials planned; every trial is a fresh process.`);
  for (const [i, p] of plan.entries()) {
    const namePrefix = `${runPrefix}-r${p.round + 1}-${p.contender}-${p.scenario}`;
    let result: TrialResult;
    if (p.contender === 'warren' && !warren.available) {
      result = {
        contender: p.contender,
        scenario: p.scenario,
        status: 'skipped',
        reason: warren.reason ?? 'warren unavailable',
        peakRssMb: Number.NaN,
        wallMs: 0,
        warnings: [],
      };
    } else if (interrupted || Date.now() > runDeadline) {
      result = {
        contender: p.contender,
        scenario: p.scenario,
        status: 'skipped',
        reason: interrupted ? 'run interrupted' : `run time budget of ${opts.maxMinutes} min used up`,
        peakRssMb: Number.NaN,
        wallMs: 0,
        warnings: [],
      };
    } else {
      const sizing = SCENARIOS[p.scenario].sizing[opts.mode];
      const params: TrialParams = { ...sizing, url: opts.url, namePrefix, prefetch: PREFETCH };
      result = await runChild(p.contender, p.scenario, params, sizing.budgetMs + TRIAL_OVERHEAD_MS + 30_000);
      log(progressLine(i + 1, plan.length, p, result));
    }
    trials.push({ ...result, round: p.round, order: p.order, namePrefix });
  }

  log('Checking the broker for leftovers of this run ...');
  const leftovers = await sweepLeftovers(opts.url, runPrefix, namesBefore, {
    queues: trials.flatMap((t) => t.sharedNames?.queues ?? []),
    exchanges: trials.flatMap((t) => t.sharedNames?.exchanges ?? []),
  });
  if (leftovers.found.length) log(`Deleted ${leftovers.deleted} leftover queue(s)/exchange(s) of this run: ${leftovers.found.slice(0, 10).join(', ')}`);
  if (leftovers.sharedCreated.length) log(`Shared topology first declared by this run (left in place): ${leftovers.sharedCreated.join(', ')}`);

  const finishedAt = new Date();
  const summary = summarizeTrials(trials, opts.rounds, opts.scenarios, opts.contenders);
  const versions: Record<string, string> = {};
  for (const name of ['amqplib', 'amqp-connection-manager', '@golevelup/nestjs-rabbitmq', '@nestjs/core', '@nestjs/microservices', '@warren/rabbitmq']) {
    versions[name] = packageVersion(name);
  }
  const report: RunReport = {
    meta: {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationS: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      mode: opts.mode,
      rounds: opts.rounds,
      brokerUrl: maskUrl(opts.url),
      brokerVersion: version,
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model?.trim() ?? '?',
      versions,
      contenders: CONTENDER_NAMES.filter((c) => opts.contenders.includes(c)),
      scenarios: opts.scenarios,
    },
    warren,
    summary,
    trials,
    leftovers,
    totals: {
      trials: trials.length,
      ok: trials.filter((t) => t.status === 'ok').length,
      errors: trials.filter((t) => t.status === 'error').length,
      skipped: trials.filter((t) => t.status === 'skipped').length,
    },
  };
  const markdown = renderMarkdown(report);
  const files = writeResults(report, markdown, renderSvg(report));
  process.stdout.write(`\n${markdown}\n`);
  log(`Wrote ${files.join(', ')}`);

  if (report.totals.errors > 0) {
    log(`${report.totals.errors} trial(s) FAILED (see "Failed and skipped trials").`);
    return 1;
  }
  return interrupted ? 130 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(err instanceof Error ? err.message : String(err));
    process.exit(2);
  },
);
