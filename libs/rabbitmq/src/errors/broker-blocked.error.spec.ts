import { BrokerBlockedError } from './broker-blocked.error';
import { WarrenError } from './warren.error';

describe('BrokerBlockedError', () => {
  it('carries the fields a caller branches on and says a retry is safe when nothing was sent', () => {
    const error = new BrokerBlockedError('orders', 'order.created', 5000, 'low on memory', false);
    expect(error).toBeInstanceOf(WarrenError);
    expect(error.code).toBe('BROKER_BLOCKED');
    expect(error.name).toBe('BrokerBlockedError');
    expect(error).toMatchObject({ exchange: 'orders', routingKey: 'order.created', timeoutMs: 5000, reason: 'low on memory', sent: false });
    expect(error.message).toContain('low on memory');
    expect(error.message).toContain('retrying makes no duplicate');
    expect(error.message).toContain('vm_memory_high_watermark');
  });

  it('warns that a message written before the block may still arrive', () => {
    const error = new BrokerBlockedError('orders', 'order.created', 5000, 'low on disk', true);
    expect(error.sent).toBe(true);
    expect(error.message).toContain('may still be enqueued');
    expect(error.message).not.toContain('retrying makes no duplicate');
  });
});
