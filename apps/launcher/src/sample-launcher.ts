import { join } from 'node:path';
import { ServiceProcess, type OutputTarget } from './service-process';

/** A service to start, and how many instances of it. */
export interface ServiceSpec {
  name: 'orders' | 'inventory' | 'payments' | 'notifications';
  instances?: number;
}

export const ALL_SERVICES: ServiceSpec[] = [{ name: 'inventory' }, { name: 'payments', instances: 2 }, { name: 'notifications' }, { name: 'orders' }];

export interface LaunchOptions {
  services?: ServiceSpec[];
  /** Environment of every service (AMQP_URL, REDIS_URL, SAMPLE_NAMESPACE, ...), over the launcher's own. */
  env?: NodeJS.ProcessEnv;
  /** 'console': prefixed lines; a directory: one log file per instance. */
  output: { kind: 'console'; color: boolean } | { kind: 'files'; dir: string };
  /** Where the compiled services are. @default dist/apps next to this file */
  distDir?: string;
  /** Called when an instance ends on its own (crash, failed start). */
  onUnexpectedExit?: (label: string, code: number | string) => void;
}

/** The services started by `launchSample`, stopped together. */
export class SampleProcesses {
  constructor(readonly processes: ServiceProcess[]) {}

  /** Stops every instance, the HTTP entry point first so no new work comes in. */
  async stop(): Promise<void> {
    const orders = this.processes.filter((p) => p.label.startsWith('orders'));
    await Promise.all(orders.map((p) => p.stop()));
    await Promise.all(this.processes.filter((p) => !orders.includes(p)).map((p) => p.stop()));
  }
}

/** Starts every service as its own Node process (what `npm run start:sample` and the demo do). */
export function launchSample(options: LaunchOptions): SampleProcesses {
  const distDir = options.distDir ?? join(__dirname, '..', '..');
  const processes: ServiceProcess[] = [];
  let index = 0;
  for (const spec of options.services ?? ALL_SERVICES) {
    const instances = spec.instances ?? 1;
    for (let i = 1; i <= instances; i++) {
      const label = instances > 1 ? `${spec.name}-${i}` : spec.name;
      const output: OutputTarget = options.output.kind === 'console' ? options.output : { kind: 'file', path: join(options.output.dir, `${label}.log`) };
      const env: NodeJS.ProcessEnv = { ...options.env, INSTANCE_ID: `${label}@${process.pid}` };
      const child = new ServiceProcess(label, join(distDir, spec.name, 'src', 'main.js'), env, output, index++);
      void child.exited.then((code) => {
        if (!child.isStopping) options.onUnexpectedExit?.(label, code);
      });
      processes.push(child);
    }
  }
  return new SampleProcesses(processes);
}
