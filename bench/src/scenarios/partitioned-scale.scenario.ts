import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Contender, DeclaredSettings } from '../contender';
import type { FromConsumer, ToConsumer } from '../partition-consumer';
import { encodePayload, makePayload } from '../support/payload';
import { nowMs, sleep } from '../support/time';
import { BenchIntegrityError, ScenarioContext, ScenarioOutcome } from './scenario';

/** Partitions of the handler, as in `consume-partitioned`. */
export const SCALE_PARTITIONS = 8;
/** Consumer processes of each measurement, in order. */
export const SCALE_PROCESSES = [1, 2, 3] as const;
const PREFILL_TIMEOUT_MS = 120_000;
const JOIN_TIMEOUT_MS = 60_000;
/** CPU work per message of the second set of measurements: a handler whose own work is the bottleneck. */
export const SCALE_WORK_US = 100;

interface Measured {
  processes: number;
  workUs: number;
  throughput: number;
  cpuUsPerMsg: number;
  durationMs: number;
  total: number;
  complete: boolean;
  owned: number[][];
  shares: number[];
}

/** One forked consumer process and what it reported. */
class ConsumerProcess {
  readonly child: ChildProcess;
  private waiters: Array<{ type: FromConsumer['type']; resolve: (m: FromConsumer) => void }> = [];
  failure: string | undefined;

  constructor(args: unknown, onIds: (process: ConsumerProcess, ids: number[]) => void) {
    this.child = fork(join(__dirname, '..', 'partition-consumer.js'), [JSON.stringify(args)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.child.on('message', (message: FromConsumer) => {
      if (message.type === 'ids') onIds(this, message.ids);
      if (message.type === 'failed') this.failure = message.reason;
      const i = this.waiters.findIndex((w) => w.type === message.type || message.type === 'failed');
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(message);
    });
    this.child.on('exit', (code) => {
      this.failure ??= code === 0 ? undefined : `consumer process exited with ${code}`;
      for (const w of this.waiters.splice(0)) w.resolve({ type: 'failed', reason: this.failure ?? 'consumer process exited' });
    });
  }

  next<T extends FromConsumer['type']>(type: T, timeoutMs: number): Promise<Extract<FromConsumer, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumer process: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          if (m.type === 'failed') reject(new Error(`consumer process failed: ${m.reason}`));
          else resolve(m as Extract<FromConsumer, { type: T }>);
        },
      });
    });
  }

  send(message: ToConsumer): void {
    if (this.child.connected) this.child.send(message);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/**
 * Partitioned, ordered consume by 1, 2 and 3 consumer processes (8 partitions, prefetch as
 * configured), with a handler that does nothing and again with one that spends SCALE_WORK_US of
 * CPU per message. For each count: start every process, wait until they agree on the group (each
 * knows all of them, each owns some partitions, together all) and a probe message sent to each
 * partition is handled by the process owning it (the others have let go), then fill the partitions while every handler waits at a gate, then open the gates and time
 * the processes draining them together. Nothing may be lost, handled twice, or handled before an
 * earlier message of its partition; the figures are the throughput and the consumer processes'
 * CPU per message (user + system, summed over the processes).
 */
export async function runPartitionedScale(contender: Contender, ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const results: Measured[] = [];
  let declared: DeclaredSettings | undefined;
  for (const workUs of [0, SCALE_WORK_US]) {
    for (const processes of SCALE_PROCESSES) {
      results.push(await measure(contender, ctx, processes, workUs, (settings) => (declared ??= settings)));
    }
  }
  const [one, two, three, workOne, workTwo, workThree] = results;
  const notes = results.map(
    (r) =>
      `${r.processes} process(es)${r.workUs > 0 ? `, ${r.workUs} µs of work per message` : ''}: partitions owned ${r.owned.map((o) => o.length).join('/')}, messages handled ${r.shares.map((s) => `${Math.round((100 * s) / r.total)}%`).join('/')}, ${r.throughput.toFixed(0)} msg/s, ${r.cpuUsPerMsg.toFixed(1)} µs CPU/msg${r.complete ? '' : ' (truncated)'}`,
  );
  return {
    metrics: {
      throughput: three.throughput,
      throughput1: one.throughput,
      throughput2: two.throughput,
      cpuUsPerMsg2: two.cpuUsPerMsg,
      cpuUsPerMsg3: three.cpuUsPerMsg,
      workThroughput1: workOne.throughput,
      workThroughput2: workTwo.throughput,
      workThroughput3: workThree.throughput,
    },
    // The row's CPU per message is the one-process figure: what partitioning costs against plain consume (one process).
    ops: one.total,
    durationMs: one.durationMs,
    cpuUs: one.cpuUsPerMsg * one.total,
    cpuUsPerOp: one.cpuUsPerMsg,
    truncated: results.some((r) => !r.complete),
    settings: declared ?? { confirms: null, prefetch: ctx.params.prefetch, persistent: null, noDelay: true, notes: [] },
    notes,
  };
}

async function measure(
  contender: Contender,
  ctx: ScenarioContext,
  processes: number,
  workUs: number,
  onSettings: (s: DeclaredSettings) => void,
): Promise<Measured> {
  const p = ctx.params;
  const route = ctx.route(`scale${processes}w${workUs}`, `scale${processes}w${workUs}`);
  const queues = Array.from({ length: SCALE_PARTITIONS }, (_, i) => `${route.queue}.p${i}`);
  for (const queue of queues) ctx.trackQueue(queue);
  ctx.trackExchange(`${route.queue}.partitions`);
  const total = p.warmup + p.count;

  const seen = new Uint8Array(total);
  let unique = 0;
  let duplicates = 0;
  let foreign = 0;
  let outOfOrder = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const last = new Map<ConsumerProcess, number[]>();
  // Probe id -> the process that handled it.
  const probes = new Map<number, ConsumerProcess>();
  const onIds = (from: ConsumerProcess, ids: number[]): void => {
    let lastOf = last.get(from);
    if (!lastOf) last.set(from, (lastOf = new Array<number>(SCALE_PARTITIONS).fill(-1)));
    for (const id of ids) {
      if (Number.isInteger(id) && id >= total) {
        probes.set(id, from);
        continue;
      }
      if (!(Number.isInteger(id) && id >= 0 && id < total)) {
        foreign++;
        continue;
      }
      // Within one process, a partition's ids arrive in the order it handled them: ascending.
      const partition = id % SCALE_PARTITIONS;
      if (id < lastOf[partition]) outOfOrder++;
      lastOf[partition] = id;
      if (seen[id]) duplicates++;
      else {
        seen[id] = 1;
        if (++unique === total) finish();
      }
    }
  };
  const shares = new Map<ConsumerProcess, number>();
  const counting = (from: ConsumerProcess, ids: number[]): void => {
    shares.set(from, (shares.get(from) ?? 0) + ids.filter((id) => id < total).length);
    onIds(from, ids);
  };

  const args = { contender: contender.name, settings: ctx.settings, route, partitions: SCALE_PARTITIONS, workUs, probeFrom: total };
  const children = Array.from({ length: processes }, () => new ConsumerProcess(args, counting));
  try {
    const ready = await Promise.all(children.map((c) => c.next('ready', JOIN_TIMEOUT_MS)));
    onSettings(ready[0].settings);
    // Every process knows all of them and owns its share; together they own every partition.
    const deadline = Date.now() + JOIN_TIMEOUT_MS;
    let owned: number[][] = [];
    let round = 0;
    let lastProbe = 'no probe sent';
    // One probe per partition: true when each was handled by the process that owns its partition.
    const probed = async (r: number): Promise<boolean> => {
      const ids = queues.map((_, i) => total + r * SCALE_PARTITIONS + i);
      await Promise.all(
        queues.map((queue, i) =>
          ctx.helper.prefill(
            queue,
            1,
            () => {
              const payload = makePayload(ids[i]);
              return { content: encodePayload(payload), payload };
            },
            Date.now() + 10_000,
          ),
        ),
      );
      const until = Date.now() + 10_000;
      while (ids.some((id) => !probes.has(id)) && Date.now() < until) await sleep(20);
      const held = ids.map((id, i) => {
        const by = probes.has(id) ? children.indexOf(probes.get(id)!) : -1;
        return { partition: i, by, owner: owned.findIndex((o) => o.includes(i)) };
      });
      lastProbe = held
        .filter((h) => h.by !== h.owner)
        .map((h) => `p${h.partition} owned by process ${h.owner + 1}, ${h.by < 0 ? 'probe not handled' : `handled by process ${h.by + 1}`}`)
        .join('; ');
      return lastProbe === '';
    };
    for (;;) {
      const views = await Promise.all(
        children.map((c) => {
          const reply = c.next('groups', 10_000);
          c.send({ type: 'groups' });
          return reply;
        }),
      );
      owned = views.map((v) => v.owned);
      const union = new Set(owned.flat());
      if (views.every((v) => v.instances === processes && v.owned.length > 0) && union.size === SCALE_PARTITIONS && (await probed(round++))) break;
      if (Date.now() > deadline)
        throw new BenchIntegrityError(
          `the ${processes} consumer processes did not share out the partitions within ${JOIN_TIMEOUT_MS} ms (owned: ${owned.map((o) => `[${o.join(',')}]`).join(' ')}; last probe: ${lastProbe})`,
        );
      await sleep(200);
    }

    await Promise.all(
      queues.map((queue, i) =>
        ctx.helper.prefill(
          queue,
          Math.ceil((total - i) / queues.length),
          (n) => {
            const payload = makePayload(n * queues.length + i);
            return { content: encodePayload(payload), payload };
          },
          Date.now() + PREFILL_TIMEOUT_MS,
        ),
      ),
    );

    const startedAt = nowMs();
    for (const c of children) c.send({ type: 'go' });
    let timer: NodeJS.Timeout | undefined;
    // The trial's budget covers the six measurements.
    await Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, p.budgetMs / (2 * SCALE_PROCESSES.length))))]);
    clearTimeout(timer);
    const durationMs = nowMs() - startedAt;
    const closed = await Promise.all(
      children.map((c) => {
        const reply = c.next('closed', 60_000);
        c.send({ type: 'close' });
        return reply;
      }),
    );
    const complete = unique === total;
    await sleep(200);
    let remaining = 0;
    for (const queue of queues) remaining += (await ctx.helper.messageCount(queue)) ?? 0;
    if (complete && remaining !== 0) throw new BenchIntegrityError(`${remaining} messages still in the partitions after all ${total} were handled: not acked`);
    if (!complete && unique + remaining < total)
      throw new BenchIntegrityError(`${total - unique - remaining} messages lost (handled ${unique}, left ${remaining} of ${total})`);
    if (duplicates > 0) throw new BenchIntegrityError(`${duplicates} messages handled twice`);
    if (foreign > 0) throw new BenchIntegrityError(`${foreign} messages with an unexpected payload`);
    if (outOfOrder > 0) throw new BenchIntegrityError(`${outOfOrder} messages handled before an earlier message of their partition`);
    const cpuUs = closed.reduce((sum, c) => sum + c.cpuUs, 0);
    return {
      processes,
      workUs,
      throughput: unique / (durationMs / 1000),
      cpuUsPerMsg: cpuUs / unique,
      durationMs,
      total: unique,
      complete,
      owned,
      shares: children.map((c) => shares.get(c) ?? 0),
    };
  } finally {
    for (const c of children) c.kill();
  }
}
