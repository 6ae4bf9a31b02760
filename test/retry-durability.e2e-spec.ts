import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { AmqpConnection, DeadLetterService, RabbitMQModule, RabbitSubscribe } from '@warren/rabbitmq';
import { createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, uniqueName, waitFor } from './support/broker';

const exchange = uniqueName('durable.x');

describe('retries and dead letters survive consumers', () => {
  let admin: BrokerAdmin;

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
    admin.track('exchange', exchange);
  });

  afterAll(async () => {
    await admin?.close();
  });

  it('keeps messages waiting for a retry while the consumer is stopped, and handles each once after restart', async () => {
    const queue = uniqueName('durable.wait');
    admin.track('queue', queue, `${queue}.dlq`);
    const handled = new Map<number, number>();
    let failing = true;

    @Injectable()
    class Worker {
      @RabbitSubscribe({ exchange, routingKey: queue, queue, retry: { maxAttempts: 3, backoff: { type: 'fixed', delay: 1500 } } })
      handle(payload: { n: number }): void {
        if (failing) throw new Error('down');
        handled.set(payload.n, (handled.get(payload.n) ?? 0) + 1);
      }
    }
    const metadata = {
      imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, exchanges: [{ name: exchange, type: 'direct' }] })],
      providers: [Worker],
    };
    const first: INestApplicationContext = await createApp(metadata);
    await first.get(AmqpConnection).publishBatch(Array.from({ length: 20 }, (_, n) => ({ exchange, routingKey: queue, message: { n } })));
    await waitFor(() => first.get(AmqpConnection).getHandlerStats()['Worker.handle'].retried === 20, 'all 20 parked for a retry');
    await first.close();
    failing = false;
    const second = await createApp(metadata);
    try {
      await waitFor(() => handled.size === 20, 'all 20 handled by the restarted consumer', 10_000);
      expect([...handled.values()].every((n) => n === 1)).toBe(true);
      expect(await admin.messageCount(`${queue}.dlq`)).toBe(0);
    } finally {
      await second.close();
    }
  });

  it('dead-letters a message whose handler kills its process, through the quorum queue delivery limit', async () => {
    const queue = uniqueName('durable.crash');
    admin.track('queue', queue, `${queue}.dlq`);
    const worker = join(__dirname, 'support', 'crash-worker.js');
    const env = { ...process.env, AMQP_URL, QUEUE: queue, EXCHANGE: exchange, DELIVERY_LIMIT: '2', QUEUE_TYPE: 'quorum' };
    const runWorker = (): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [worker], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
        child.on('exit', (code, signal) => {
          clearTimeout(timer);
          resolve({ code, signal, out });
        });
      });

    // A first worker declares the topology and takes the good message; the crashing one follows.
    const app = await createApp({ imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, exchanges: [{ name: exchange, type: 'direct' }] })] });
    try {
      const amqp = app.get(AmqpConnection);
      const crashes: Array<NodeJS.Signals | null> = [];
      for (let run = 0; run < 6; run++) {
        if (run === 0) {
          const pending = runWorker();
          await waitFor(async () => (await admin.consumerCount(queue)) === 1, 'the worker consuming');
          await amqp.publish(exchange, queue, { crash: true });
          crashes.push((await pending).signal);
        } else {
          const result = await runWorker();
          crashes.push(result.signal);
        }
        if ((await admin.messageCount(`${queue}.dlq`)) === 1) break;
      }
      await waitFor(async () => (await admin.messageCount(`${queue}.dlq`)) === 1, 'the crash-looping message in the dead-letter queue');
      expect(crashes.filter((s) => s === 'SIGKILL').length).toBeGreaterThanOrEqual(2);
      expect(crashes.length).toBeLessThanOrEqual(4);
      const [dead] = await app.get(DeadLetterService).peek(`${queue}.dlq`);
      expect(dead.payload).toEqual({ crash: true });
      expect(dead.reason.errorMessage).toContain('delivery limit');
      expect(await admin.messageCount(queue)).toBe(0);
    } finally {
      await app.close();
    }
  }, 60_000);
});
