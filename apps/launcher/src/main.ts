import { ALL_SERVICES, launchSample } from './sample-launcher';

/**
 * `npm run start:sample`: every service as a child process against AMQP_URL and
 * REDIS_URL, output prefixed with the service's name. Ctrl-C stops them all
 * gracefully. PAYMENTS_INSTANCES sets how many payments workers compete (default 2).
 */
function main(): void {
  const paymentsInstances = Number(process.env.PAYMENTS_INSTANCES ?? 2);
  const services = ALL_SERVICES.map((spec) => (spec.name === 'payments' ? { ...spec, instances: paymentsInstances } : spec));
  let stopping = false;
  const sample = launchSample({
    services,
    output: { kind: 'console', color: process.stdout.isTTY === true && !process.env.NO_COLOR },
    onUnexpectedExit: (label, code) => {
      if (stopping) return;
      console.error(`\n${label} exited (${code}); stopping the other services. Its last lines above say why.`);
      void shutdown(1);
    },
  });
  const port = process.env.ORDERS_PORT ?? process.env.PORT ?? '3000';
  console.log(`Started ${sample.processes.map((p) => p.label).join(', ')}. Orders API: http://localhost:${port}  ·  Ctrl-C stops everything.`);

  async function shutdown(code: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping services (they finish the messages in hand first)...');
    await sample.stop();
    console.log('All services stopped.');
    process.exit(code);
  }
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
}

main();
