/**
 * One consumer process of the `consume-partitioned-scale` scenario:
 *
 *   node bench/dist/partition-consumer.js '<json { contender, settings, route, partitions }>'
 *
 * (forked with an IPC channel). It opens the contender's partitioned consumer and holds every
 * message at a gate until the parent says `go`, so no process drains the partitions before the
 * others have joined and the messages are in. It reports the ids it handled in batches, its view
 * of the partition group on request, and its CPU time from `go` to `close`.
 */
import 'reflect-metadata';
import type { BenchSettings, ContenderName, DeclaredSettings, Route } from './contender';
import { loadContender } from './contenders/contender-registry';

export type ToConsumer = { type: 'groups' } | { type: 'go' } | { type: 'close' };
export type FromConsumer =
  | { type: 'ready'; settings: DeclaredSettings }
  | { type: 'groups'; instances: number; owned: number[] }
  | { type: 'ids'; ids: number[] }
  | { type: 'closed'; cpuUs: number; handled: number }
  | { type: 'failed'; reason: string };

interface Args {
  contender: ContenderName;
  settings: BenchSettings;
  route: Route;
  partitions: number;
  /** µs of CPU work (a busy loop) per message before it is recorded; 0 = a handler that does nothing. */
  workUs: number;
  /** Ids from this one up are probes (is the partition's owner the one handling it?): handled at once, past the gate. */
  probeFrom: number;
}

const send = (message: FromConsumer): void => void process.send?.(message);

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as Args;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let gateOpen = false;
  let buffer: number[] = [];
  let handled = 0;
  let cpuAtGo: NodeJS.CpuUsage | undefined;
  const flush = (): void => {
    if (buffer.length === 0) return;
    send({ type: 'ids', ids: buffer });
    buffer = [];
  };
  const timer = setInterval(flush, 20);
  const consumer = await loadContender(args.contender).openConsumer(
    args.settings,
    args.route,
    (payload) => {
      const record = (): void => {
        if (args.workUs > 0) {
          const until = process.hrtime.bigint() + BigInt(args.workUs * 1000);
          while (process.hrtime.bigint() < until);
        }
        handled++;
        buffer.push(payload.id);
        if (buffer.length >= 500) flush();
      };
      if (gateOpen || payload.id >= args.probeFrom) return record();
      return gate.then(record);
    },
    { partitions: args.partitions },
  );
  process.on('message', (message: ToConsumer) => {
    if (message.type === 'groups') {
      const group = consumer.partitionGroups?.()[0];
      send({ type: 'groups', instances: group?.instances ?? 0, owned: group?.owned ?? [] });
    } else if (message.type === 'go') {
      cpuAtGo = process.cpuUsage();
      gateOpen = true;
      open();
    } else if (message.type === 'close') {
      const cpu = process.cpuUsage(cpuAtGo);
      flush();
      clearInterval(timer);
      void consumer.close().finally(() => {
        send({ type: 'closed', cpuUs: cpu.user + cpu.system, handled });
        process.disconnect?.();
      });
    }
  });
  send({ type: 'ready', settings: consumer.settings });
}

main().catch((error: unknown) => {
  send({ type: 'failed', reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  process.exitCode = 1;
  process.disconnect?.();
});
