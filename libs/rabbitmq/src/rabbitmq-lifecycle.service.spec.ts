import { mergeHandlerConfig } from './rabbitmq-lifecycle.service';

describe('mergeHandlerConfig', () => {
  it('merges object options one level deep and replaces the rest', () => {
    const merged = mergeHandlerConfig(
      { queue: 'a', queueOptions: { maxPriority: 5, durable: true }, retry: { maxAttempts: 3, backoff: { type: 'fixed', delay: 100 } }, prefetch: 1 },
      { queue: 'b', queueOptions: { type: 'quorum' }, retry: { maxAttempts: 5 } },
    );
    expect(merged).toEqual({
      queue: 'b',
      queueOptions: { maxPriority: 5, durable: true, type: 'quorum' },
      retry: { maxAttempts: 5, backoff: { type: 'fixed', delay: 100 } },
      prefetch: 1,
    });
  });

  it('lets an override switch a feature off', () => {
    expect(mergeHandlerConfig({ retry: { maxAttempts: 3 } }, { retry: false }).retry).toBe(false);
  });
});
