import type { Contender } from '../contender';
import { runBounded } from '../support/drive';
import { MeasureWindow } from '../support/measure';
import { makePayload } from '../support/payload';
import { BenchIntegrityError, ScenarioContext, ScenarioOutcome } from './scenario';

/**
 * (a) Publish with confirms, `concurrency` (100) messages in flight. The
 * queue is declared and bound beforehand; afterwards it must hold exactly the
 * messages whose publish resolved.
 */
export async function runPublish(contender: Contender, ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const p = ctx.params;
  const route = ctx.route('q', 'bench');
  await ctx.helper.declareRoute(route);

  const publisher = await contender.openPublisher(ctx.settings, route);
  const window = new MeasureWindow();
  let warmed: number;
  let measured: number;
  try {
    const deadline = Date.now() + p.budgetMs;
    warmed = await runBounded(p.warmup, p.concurrency, deadline, (i) => publisher.publish(makePayload(i)));
    window.start();
    measured = await runBounded(p.count, p.concurrency, deadline, (i) => publisher.publish(makePayload(p.warmup + i)));
  } finally {
    if (window.started) window.stop();
    await publisher.close();
  }
  const w = window.stop();

  // With confirms every resolved publish is already enqueued; without, give the broker a moment.
  const expected = warmed + measured;
  const inQueue = await ctx.helper.waitForCount(route.queue, expected, publisher.settings.confirms ? 3_000 : 10_000);
  if (inQueue !== expected) {
    throw new BenchIntegrityError(`queue holds ${inQueue ?? 'no queue'} messages, expected ${expected} (publishes that resolved)`);
  }

  return {
    metrics: { throughput: measured / (w.durationMs / 1000) },
    ops: measured,
    durationMs: w.durationMs,
    cpuUs: w.cpuUs,
    cpuUsPerOp: w.cpuUs / measured,
    truncated: measured < p.count,
    settings: publisher.settings,
    notes: [],
  };
}
