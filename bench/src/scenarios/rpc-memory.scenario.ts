import { Contender, ScenarioUnsupportedError } from '../contender';
import { heapAfterGcMb, MeasureWindow } from '../support/measure';
import { makePayload } from '../support/payload';
import { withTimeout } from '../support/time';
import { BenchIntegrityError, ScenarioContext, ScenarioOutcome } from './scenario';

const MB = 1024 * 1024;

/**
 * Memory with N (10,000) outstanding RPC calls to a queue nobody consumes:
 * heap after GC before the calls, while all are outstanding (once the queue
 * holds every request), and after all have timed out. Needs --expose-gc.
 */
export async function runRpcMemory(contender: Contender, ctx: ScenarioContext): Promise<ScenarioOutcome> {
  if (!contender.openRpcClient) throw new ScenarioUnsupportedError(contender.name, 'rpc-memory');
  const p = ctx.params;
  const route = ctx.route('silent', 'silent');
  await ctx.helper.declareRoute(route);
  const client = await contender.openRpcClient(ctx.settings, route);

  const window = new MeasureWindow();
  let heapBaseMb: number;
  let heapDuringMb: number;
  let heapAfterMb: number;
  let outstandingAtMeasure: number;
  let answered = 0;
  const errors = new Map<string, number>();
  try {
    // One call first (left to time out with the others), so state the client
    // creates lazily on its first call is in the baseline.
    const first = client.call(makePayload(-1)).catch(() => undefined);
    await ctx.helper.waitForCount(route.queue, 1, 5_000);
    heapBaseMb = await heapAfterGcMb();

    window.start();
    let settled = 0;
    const calls: Promise<void>[] = [];
    for (let i = 0; i < p.count; i++) {
      calls.push(
        client.call(makePayload(i)).then(
          () => {
            answered++;
            settled++;
          },
          (err: unknown) => {
            const name = err instanceof Error ? err.constructor.name : typeof err;
            errors.set(name, (errors.get(name) ?? 0) + 1);
            settled++;
          },
        ),
      );
    }
    // Measure once the broker holds every request (all are published and
    // waiting), and before the first timeouts fire.
    await ctx.helper.waitForCount(route.queue, p.count + 1, Math.floor(p.rpcTimeoutMs * 0.6));
    outstandingAtMeasure = p.count - settled;
    heapDuringMb = await heapAfterGcMb();

    await withTimeout(Promise.all([first, ...calls]), p.rpcTimeoutMs + p.budgetMs, 'outstanding RPC calls did not all settle');
    heapAfterMb = await heapAfterGcMb();
  } finally {
    if (window.started) window.stop();
    await client.close();
  }
  const w = window.stop();
  if (answered > 0) throw new BenchIntegrityError(`${answered} calls were answered, but nobody consumes ${route.queue}`);

  const errorSummary = [...errors.entries()].map(([name, n]) => `${n} × ${name}`).join(', ');
  return {
    metrics: {
      bytesPerCall: ((heapDuringMb - heapBaseMb) * MB) / p.count,
      heapBaseMb,
      heapDuringMb,
      heapAfterMb,
      retainedAfterMb: heapAfterMb - heapBaseMb,
      outstandingAtMeasure,
    },
    ops: p.count,
    durationMs: w.durationMs,
    cpuUs: w.cpuUs,
    cpuUsPerOp: w.cpuUs / p.count,
    truncated: false,
    settings: client.settings,
    notes: [
      `${p.count} calls, timeout ${p.rpcTimeoutMs} ms; ${outstandingAtMeasure} outstanding when measured; calls ended with: ${errorSummary || 'nothing'}`,
    ],
  };
}
