import type { HandlerDescriptor } from './handler-descriptor';
import { validatePartitions } from './validate-partitions';

function handler(config: HandlerDescriptor['config'], name = 'Payments.handle', kind: HandlerDescriptor['kind'] = 'subscribe'): HandlerDescriptor {
  return { name, kind, config, invoke: () => Promise.resolve() };
}

describe('validatePartitions', () => {
  const good = { exchange: 'orders', routingKey: 'order.*', queue: 'payments', partitions: { count: 8 } };

  it('accepts a partitioned subscribe handler and ignores unpartitioned ones', () => {
    const h = handler(good);
    expect(validatePartitions(h, [h])).toEqual([]);
    expect(validatePartitions(handler({ queue: 'q' }), [])).toEqual([]);
  });

  it('reports every problem of one handler at once', () => {
    const h = handler(
      {
        queue: 'payments',
        channel: 'shared',
        queueOptions: { type: 'stream', exclusive: true },
        partitions: { count: 65, onFailure: 'later' as 'block', heartbeatMs: 10 },
      },
      'Bad.rpc',
      'rpc',
    );
    const problems = validatePartitions(h, [h]);
    expect(problems).toEqual([
      'Bad.rpc: partitions.count must be an integer from 1 to 64 (got 65)',
      "Bad.rpc: partitions.onFailure must be 'block' or 'delay' (got later)",
      'Bad.rpc: partitions.heartbeatMs must be an integer of at least 50 (got 10)',
      'Bad.rpc: partitions apply to @RabbitSubscribe handlers, not RPC handlers',
      "Bad.rpc: partitions cannot use a shared channel ('channel'): each partition has its own",
      'Bad.rpc: partitions cannot be stream queues (a stream has no single active consumer over AMQP 0.9.1)',
      'Bad.rpc: partition queues cannot be exclusive: every instance consumes them',
      "Bad.rpc: partitions need a binding (set 'exchange' and 'routingKey', or 'bindings'): messages reach the partitions through them",
    ]);
  });

  it('refuses an assertQueueErrorHandler, which partition queues would ignore', () => {
    const h = handler({ ...good, assertQueueErrorHandler: () => 'payments' });
    expect(validatePartitions(h, [h])).toEqual([expect.stringContaining('assertQueueErrorHandler does not apply')]);
  });

  it('refuses a partitioned queue shared with another handler', () => {
    const a = handler(good, 'A.handle');
    const b = handler({ queue: 'payments' }, 'B.handle');
    expect(validatePartitions(a, [a, b])).toEqual(["A.handle: the partitioned queue 'payments' is also used by B.handle; a partitioned queue has one handler"]);
  });
});
