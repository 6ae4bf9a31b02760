import type { BenchPayload, Contender, ConsumerFeatures } from '../contender';
import { MeasureWindow } from '../support/measure';
import { encodePayload, makePayload } from '../support/payload';
import { sleep } from '../support/time';
import { BenchIntegrityError, ScenarioContext, ScenarioOutcome } from './scenario';

/** Time allowed for pre-filling, apart from the measured budget. */
const PREFILL_TIMEOUT_MS = 120_000;

/**
 * (b) Consume a pre-filled queue with acks. The contender first starts once
 * on the empty queue and stops (so the queue has exactly the arguments the
 * library declares, and module loading is out of the way); the queue is then
 * filled with raw amqplib, and the contender started again. The window runs
 * from the `warmup`-th message handled to the last, so start-up is excluded.
 * Afterwards the queue must be empty (every message acked) and no message may
 * be missing or handled twice.
 */
export async function runConsume(contender: Contender, ctx: ScenarioContext, features?: ConsumerFeatures): Promise<ScenarioOutcome> {
  const p = ctx.params;
  const route = ctx.route('q', 'bench');
  const total = p.warmup + p.count;
  const windowStartAt = Math.max(1, p.warmup);
  // With retry/dead-lettering Warren adds `<queue>.dlq` (its default name); deleting a missing queue is a no-op.
  if (features) ctx.trackQueue(`${route.queue}.dlq`);
  // Partitioned: the handler's queue is `count` partition queues; message i goes to partition i % count.
  const partitions = features?.partitions ?? 0;
  const queues = partitions > 0 ? Array.from({ length: partitions }, (_, p) => `${route.queue}.p${p}`) : [route.queue];
  if (partitions > 0) {
    for (const queue of queues) ctx.trackQueue(queue);
    ctx.trackExchange(`${route.queue}.partitions`);
  }

  // Phase 0: let the contender declare its queue (and bindings/arguments).
  const first = await contender.openConsumer(ctx.settings, route, () => undefined, features);
  await first.close();
  for (const queue of queues) {
    if ((await ctx.helper.messageCount(queue)) === undefined) throw new Error(`${contender.name} did not declare the queue ${queue}`);
  }

  const encode = contender.encodeForQueue?.bind(contender) ?? encodePayload;
  await Promise.all(
    queues.map((queue, p) =>
      ctx.helper.prefill(
        queue,
        Math.ceil((total - p) / queues.length),
        (i) => {
          const payload = makePayload(i * queues.length + p);
          return { content: encode(payload), payload };
        },
        Date.now() + PREFILL_TIMEOUT_MS,
      ),
    ),
  );

  const seen = new Uint8Array(total);
  let handled = 0;
  let unique = 0;
  let duplicates = 0;
  let foreign = 0;
  let outOfOrder = 0;
  // Partitioned: each partition's ids must arrive in ascending order.
  const lastOfPartition = new Array<number>(queues.length).fill(-1);
  const window = new MeasureWindow();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const listener = (payload: BenchPayload): void => {
    handled++;
    if (Number.isInteger(payload.id) && payload.id >= 0 && payload.id < total) {
      if (partitions > 0) {
        const p = payload.id % queues.length;
        if (payload.id < lastOfPartition[p]) outOfOrder++;
        lastOfPartition[p] = payload.id;
      }
      if (seen[payload.id]) duplicates++;
      else {
        seen[payload.id] = 1;
        unique++;
      }
    } else foreign++;
    if (handled === windowStartAt) window.start();
    if (unique === total) {
      window.stop();
      finish();
    }
  };

  const consumer = await contender.openConsumer(ctx.settings, route, listener, features);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, p.budgetMs)))]);
  } finally {
    clearTimeout(timer);
    if (window.started) window.stop();
    await consumer.close();
  }
  if (!window.started) throw new BenchIntegrityError(`no message reached the consumer within ${p.budgetMs} ms`);
  const w = window.stop();
  const complete = unique === total;

  // Completed: acks must have emptied the queue. Truncated: unacked messages
  // went back to the queue; together with those handled nothing may be missing.
  const countAll = async (): Promise<number | undefined> => {
    let sum = 0;
    for (const queue of queues) {
      const n = await ctx.helper.messageCount(queue);
      if (n === undefined) return undefined;
      sum += n;
    }
    return sum;
  };
  let remaining = queues.length === 1 ? await ctx.helper.waitForCount(route.queue, complete ? 0 : total - unique, 5_000) : await countAll();
  if (!complete || queues.length > 1) {
    await sleep(200);
    remaining = await countAll();
  }
  if (remaining === undefined) throw new BenchIntegrityError(`queue ${route.queue} disappeared`);
  if (complete && remaining !== 0) throw new BenchIntegrityError(`${remaining} messages still in the queue after all ${total} were handled: not acked`);
  if (!complete && unique + remaining < total)
    throw new BenchIntegrityError(`${total - unique - remaining} messages lost (handled ${unique}, left ${remaining} of ${total})`);
  if (duplicates > 0) throw new BenchIntegrityError(`${duplicates} messages handled twice`);
  if (foreign > 0) throw new BenchIntegrityError(`${foreign} messages with an unexpected payload`);
  if (outOfOrder > 0) throw new BenchIntegrityError(`${outOfOrder} messages handled before an earlier message of their partition`);

  const ops = (complete ? total : unique) - windowStartAt;
  return {
    metrics: { throughput: ops / (w.durationMs / 1000) },
    ops,
    durationMs: w.durationMs,
    cpuUs: w.cpuUs,
    cpuUsPerOp: w.cpuUs / ops,
    truncated: !complete,
    settings: consumer.settings,
    notes: [],
  };
}
