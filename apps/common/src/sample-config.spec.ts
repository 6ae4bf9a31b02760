import { DEFAULT_SAMPLE_CONFIG, loadSampleConfig, maskUrl } from './sample-config';
import { sampleNames } from './sample-names';

describe('loadSampleConfig', () => {
  it('uses the defaults for an empty environment', () => {
    expect(loadSampleConfig({})).toEqual(DEFAULT_SAMPLE_CONFIG);
  });

  it('reads a cluster URL list, the queue type and the delays', () => {
    const config = loadSampleConfig({
      AMQP_URL: 'amqp://a:5672, amqp://b:5672,,amqp://c:5672',
      QUEUE_TYPE: 'quorum',
      PAYMENT_RETRY_DELAY_MS: '0',
      PAYMENT_MAX_ATTEMPTS: '6',
      PORT: '8080',
      LOG_LEVEL: 'debug',
      PAYMENT_PARTITIONS: '6',
    });
    expect(config.paymentPartitions).toBe(6);
    expect(config.amqpUrls).toEqual(['amqp://a:5672', 'amqp://b:5672', 'amqp://c:5672']);
    expect(config.queueType).toBe('quorum');
    // 0 is a legitimate delay, not "unset".
    expect(config.paymentRetry).toMatchObject({ initialDelayMs: 0, maxAttempts: 6 });
    expect(config.ordersPort).toBe(8080);
    expect(config.logLevels).toEqual(['fatal', 'error', 'warn', 'log', 'debug']);
  });

  it('reports every problem at once, passwords masked', () => {
    expect(() =>
      loadSampleConfig({ AMQP_URL: 'http://user:secret@host', QUEUE_TYPE: 'stream', PAYMENT_MAX_ATTEMPTS: '0', SAMPLE_NAMESPACE: 'a b', LOG_LEVEL: 'loud' }),
    ).toThrow(
      [
        'Invalid sample configuration:',
        "  - AMQP_URL entries must start with amqp:// or amqps:// (got 'http://user:***@host')",
        "  - QUEUE_TYPE must be 'classic' or 'quorum' (got 'stream')",
        "  - LOG_LEVEL must be one of fatal, error, warn, log, debug, verbose (got 'loud')",
        "  - SAMPLE_NAMESPACE may only hold letters, digits, '.', '_' and '-' (got 'a b')",
        "  - PAYMENT_MAX_ATTEMPTS must be an integer >= 1 (got '0')",
      ].join('\n'),
    );
  });

  it('refuses a payments partition count the library cannot route (0 = not partitioned, up to 64)', () => {
    expect(loadSampleConfig({}).paymentPartitions).toBe(0);
    expect(() => loadSampleConfig({ PAYMENT_PARTITIONS: '65' })).toThrow("PAYMENT_PARTITIONS must be an integer from 0 to 64 (got '65')");
    expect(() => loadSampleConfig({ PAYMENT_PARTITIONS: '-1' })).toThrow('PAYMENT_PARTITIONS');
  });

  it('masks passwords', () => {
    expect(maskUrl('amqp://guest:guest@host:5672/vh')).toBe('amqp://guest:***@host:5672/vh');
  });
});

describe('sampleNames', () => {
  it('gives the production names without a namespace', () => {
    const names = sampleNames();
    expect(names.exchanges.orders).toBe('orders');
    expect(names.queues.paymentsDlq).toBe('payments.order-created.dlq');
    expect(names.redisPrefix).toBe('warren-sample:');
  });

  it('prefixes every broker name and Redis key with the namespace', () => {
    const names = sampleNames('t1.');
    for (const name of [...Object.values(names.exchanges), ...Object.values(names.queues)]) expect(name.startsWith('t1.')).toBe(true);
    for (const key of Object.values(names.keys)) expect(key.startsWith('warren-sample:t1.')).toBe(true);
    expect(names.database).toEqual({ schema: 'warren_sample_t1', orders: 'warren_sample_t1.orders', outbox: 'warren_sample_t1.outbox' });
    expect(sampleNames().database.schema).toBe('warren_sample');
  });
});
