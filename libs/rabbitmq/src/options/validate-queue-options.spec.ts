import { validateQueueOptions } from './validate-queue-options';

describe('validateQueueOptions', () => {
  it('accepts good values and no options', () => {
    expect(validateQueueOptions(undefined, 'q')).toEqual([]);
    expect(validateQueueOptions({ consumerTimeout: 60_000, maxPriority: 10, deliveryLimit: -1 }, 'q')).toEqual([]);
  });

  it('reports every bad value, naming the queue and the field', () => {
    const problems = validateQueueOptions({ consumerTimeout: 0, maxPriority: 300, deliveryLimit: 1.5 }, 'Orders.handle');
    expect(problems).toEqual([
      'Orders.handle: queueOptions.consumerTimeout must be a positive integer of ms (got 0)',
      'Orders.handle: queueOptions.maxPriority must be an integer 1..255 (got 300)',
      'Orders.handle: queueOptions.deliveryLimit must be an integer (got 1.5)',
    ]);
    expect(validateQueueOptions({ consumerTimeout: '5s' as unknown as number }, 'q')).toHaveLength(1);
  });
});
