/**
 * One trial, in its own process:
 *
 *   node --expose-gc bench/dist/trial.js <contender> <scenario> '<json TrialParams>'
 *
 * prints exactly one line `BENCH_RESULT {json TrialResult}` on stdout and
 * exits. `<scenario>` may be `check`: load the contender only (is it usable?).
 * The wire probe is installed before any library is loaded.
 */
import 'reflect-metadata';
import { CONTENDER_NAMES, Contender, ContenderName, ContenderUnavailableError, ScenarioUnsupportedError } from './contender';
import { loadContender } from './contenders/contender-registry';
import { runConsume } from './scenarios/consume.scenario';
import { runReconnect, runStartup } from './scenarios/handler-fleet.scenario';
import { runOutbox } from './scenarios/outbox.scenario';
import { runPartitionedScale } from './scenarios/partitioned-scale.scenario';
import { runPublish } from './scenarios/publish.scenario';
import { runRpcMemory } from './scenarios/rpc-memory.scenario';
import { runRpc } from './scenarios/rpc.scenario';
import { ScenarioContext, ScenarioOutcome, ScenarioRunners, ScenarioUnavailableError, TrialParams } from './scenarios/scenario';
import { ALL_SCENARIOS, BENCH_BATCH_SIZE, ScenarioName, TRIAL_OVERHEAD_MS } from './scenarios/scenario-catalog';
import { BrokerHelper } from './support/broker-helper';
import { assertLoopbackUrl } from './support/broker-url';
import { peakRssMb } from './support/measure';
import { nowMs } from './support/time';
import { wireProbe } from './support/wire-probe';
import { RESULT_MARKER, TrialResult } from './trial-result';

const RUNNERS: ScenarioRunners = {
  publish: runPublish,
  consume: (c, ctx) => runConsume(c, ctx),
  'rpc-seq': runRpc,
  'rpc-conc': runRpc,
  'consume-retry-dedup': (c, ctx) => runConsume(c, ctx, { retry: true, dedup: true }),
  'consume-batch': (c, ctx) => runConsume(c, ctx, { batch: BENCH_BATCH_SIZE }),
  'consume-partitioned': (c, ctx) => runConsume(c, ctx, { partitions: 8 }),
  'consume-partitioned-scale': runPartitionedScale,
  startup: runStartup,
  reconnect: runReconnect,
  'rpc-memory': runRpcMemory,
  outbox: runOutbox,
};

const started = nowMs();
const warnings: string[] = [];

let emitted = false;

let namePrefix = '';

function emit(result: Omit<TrialResult, 'peakRssMb' | 'wallMs' | 'warnings'>): never {
  if (emitted) return undefined as never;
  emitted = true;
  const declared = wireProbe.declaredNames();
  const outside = (names: string[]) => names.filter((n) => !namePrefix || !n.startsWith(namePrefix));
  const sharedNames = { queues: outside(declared.queues), exchanges: outside(declared.exchanges) };
  const full: TrialResult = { ...result, sharedNames, peakRssMb: peakRssMb(), wallMs: nowMs() - started, warnings };
  // Exit only once the line is flushed: stdout may be a pipe.
  process.stdout.write(`\n${RESULT_MARKER}${JSON.stringify(full)}\n`, () => process.exit(0));
  // Libraries may keep handles open; the write callback ends the process.
  return undefined as never;
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

async function main(): Promise<void> {
  const [contenderArg, scenarioArg, paramsArg] = process.argv.slice(2);
  if (!CONTENDER_NAMES.includes(contenderArg as ContenderName)) throw new Error(`unknown contender "${contenderArg}" (${CONTENDER_NAMES.join(', ')})`);
  const contenderName = contenderArg as ContenderName;
  if (scenarioArg !== 'check' && !ALL_SCENARIOS.includes(scenarioArg as ScenarioName)) throw new Error(`unknown scenario "${scenarioArg}"`);
  const scenario = scenarioArg as ScenarioName | 'check';
  const params = JSON.parse(paramsArg ?? '{}') as TrialParams;
  namePrefix = params.namePrefix ?? '';

  process.on('unhandledRejection', (reason) => warnings.push(`unhandled rejection: ${describe(reason)}`));

  const url = scenario === 'check' ? undefined : assertLoopbackUrl(params.url);
  wireProbe.install(url ? Number(url.port || 5672) : 5672);

  let contender: Contender;
  try {
    contender = loadContender(contenderName);
  } catch (err) {
    if (err instanceof ContenderUnavailableError) return emit({ contender: contenderName, scenario, status: 'skipped', reason: err.reason });
    throw err;
  }
  if (scenario === 'check') return emit({ contender: contenderName, scenario, status: 'ok' });

  const watchdog = setTimeout(() => {
    emit({
      contender: contenderName,
      scenario,
      status: 'error',
      reason: `trial did not finish within ${params.budgetMs + TRIAL_OVERHEAD_MS} ms`,
      observed: wireProbe.snapshot(),
    });
  }, params.budgetMs + TRIAL_OVERHEAD_MS);
  watchdog.unref();

  const helper = await BrokerHelper.connect(params.url, `${params.namePrefix}-bench-helper`);
  const ctx = new ScenarioContext(params, helper);
  let outcome: ScenarioOutcome | undefined;
  let failure: { status: 'error' | 'skipped'; reason: string } | undefined;
  try {
    outcome = await RUNNERS[scenario](contender, ctx);
  } catch (err) {
    if (err instanceof ScenarioUnsupportedError) failure = { status: 'skipped', reason: err.message };
    else if (err instanceof ScenarioUnavailableError) failure = { status: 'skipped', reason: err.reason };
    else if (err instanceof ContenderUnavailableError) failure = { status: 'skipped', reason: err.reason };
    else {
      failure = { status: 'error', reason: describe(err) };
      if (err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    }
  } finally {
    const problems = await helper.deleteAll(ctx.createdQueues, ctx.createdExchanges);
    warnings.push(...problems.map((p) => `cleanup: ${p}`));
    await helper.close();
  }
  const observed = wireProbe.snapshot();
  if (failure) return emit({ contender: contenderName, scenario, ...failure, observed });
  return emit({ contender: contenderName, scenario, status: 'ok', outcome, observed });
}

main().catch((err: unknown) => {
  if (err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  emit({
    contender: (process.argv[2] ?? 'amqplib') as ContenderName,
    scenario: (process.argv[3] ?? 'check') as ScenarioName,
    status: 'error',
    reason: describe(err),
  });
});
