import { Registry } from 'prom-client';
import { PrometheusTelemetry } from './prometheus.telemetry';

describe('PrometheusTelemetry connection gauges', () => {
  async function gauges(registry: Registry): Promise<Record<string, number | undefined>> {
    const read = async (name: string): Promise<number | undefined> =>
      (await registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.connection === 'orders')?.value;
    return { up: await read('warren_connection_up'), blocked: await read('warren_connection_blocked') };
  }

  it('keeps the connection up while the broker blocks it, and flags the block', async () => {
    const registry = new Registry();
    const telemetry = new PrometheusTelemetry({ registry });
    telemetry.onConnectionStatus('orders', 'connected');
    expect(await gauges(registry)).toEqual({ up: 1, blocked: 0 });
    telemetry.onConnectionStatus('orders', 'blocked');
    expect(await gauges(registry)).toEqual({ up: 1, blocked: 1 });
    telemetry.onConnectionStatus('orders', 'connected');
    expect(await gauges(registry)).toEqual({ up: 1, blocked: 0 });
    telemetry.onConnectionStatus('orders', 'disconnected');
    expect(await gauges(registry)).toEqual({ up: 0, blocked: 0 });
  });
});
