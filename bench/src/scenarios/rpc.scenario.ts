import type { BenchPayload, Contender, RpcHandle } from '../contender';
import { runBounded } from '../support/drive';
import { MeasureWindow } from '../support/measure';
import { makePayload } from '../support/payload';
import { nowMs } from '../support/time';
import { summarize } from '../stats';
import { BenchIntegrityError, ScenarioContext, ScenarioOutcome } from './scenario';

async function checkedCall(rpc: RpcHandle, payload: BenchPayload): Promise<void> {
  const reply = await rpc.call(payload);
  if (reply.id !== payload.id || reply.body.length !== payload.body.length) {
    throw new BenchIntegrityError(`reply ${reply.id} does not match request ${payload.id}`);
  }
}

/**
 * (c) sequential RPC (concurrency 1) and (d) RPC at concurrency 50. The
 * server echoes the 1 KB request; server and client run in the trial process,
 * so the CPU figure covers both ends. Every reply is checked against its
 * request. Latency is measured per call in both cases.
 */
export async function runRpc(contender: Contender, ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const p = ctx.params;
  const route = ctx.route('rpc', 'rpc');
  const rpc = await contender.openRpc(ctx.settings, route);
  const latencies: number[] = [];
  const window = new MeasureWindow();
  let measured: number;
  try {
    const deadline = Date.now() + p.budgetMs;
    await runBounded(p.warmup, p.concurrency, deadline, (i) => checkedCall(rpc, makePayload(i)));
    window.start();
    measured = await runBounded(p.count, p.concurrency, deadline, async (i) => {
      const t0 = nowMs();
      await checkedCall(rpc, makePayload(p.warmup + i));
      latencies.push(nowMs() - t0);
    });
  } finally {
    if (window.started) window.stop();
    await rpc.close();
  }
  const w = window.stop();
  const lat = summarize(latencies);
  return {
    metrics: { throughput: measured / (w.durationMs / 1000), p50Ms: lat.p50, p90Ms: lat.p90, p99Ms: lat.p99, maxMs: lat.max, meanMs: lat.mean },
    ops: measured,
    durationMs: w.durationMs,
    cpuUs: w.cpuUs,
    cpuUsPerOp: w.cpuUs / measured,
    truncated: measured < p.count,
    settings: rpc.settings,
    notes: ['CPU covers client and server (both run in the trial process)'],
  };
}
