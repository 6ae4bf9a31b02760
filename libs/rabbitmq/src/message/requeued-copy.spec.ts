import type { ConsumeMessage } from 'amqplib';
import { requeuedCopyOptions } from './requeued-copy';
import { WARREN_HEADERS } from './warren-headers';

function delivery(properties: Record<string, unknown>, fields: Record<string, unknown> = {}): ConsumeMessage {
  return {
    content: Buffer.from('{}'),
    fields: { deliveryTag: 1, redelivered: true, exchange: 'orders', routingKey: 'order.paid', consumerTag: 'c', ...fields },
    properties: { headers: {}, ...properties },
  } as unknown as ConsumeMessage;
}

describe('requeuedCopyOptions', () => {
  it('keeps the properties a client may set, and where the message was first published', () => {
    const options = requeuedCopyOptions(
      delivery({
        contentType: 'application/json',
        messageId: 'm-1',
        correlationId: 'c-1',
        replyTo: 'amq.rabbitmq.reply-to',
        deliveryMode: 2,
        priority: 3,
        userId: 'guest',
        headers: { tenant: 't1', 'x-delivery-count': 4 },
      }),
    );
    expect(options).toMatchObject({
      mandatory: true,
      contentType: 'application/json',
      messageId: 'm-1',
      correlationId: 'c-1',
      replyTo: 'amq.rabbitmq.reply-to',
      deliveryMode: 2,
      priority: 3,
    });
    expect(options).not.toHaveProperty('userId');
    expect(options.headers).toEqual({ tenant: 't1', [WARREN_HEADERS.originalExchange]: 'orders', [WARREN_HEADERS.originalRoutingKey]: 'order.paid' });
  });

  it('keeps an original route recorded before (a retried message)', () => {
    const options = requeuedCopyOptions(
      delivery(
        { headers: { [WARREN_HEADERS.originalExchange]: 'first', [WARREN_HEADERS.originalRoutingKey]: 'first.key' } },
        { exchange: 'warren.retry.return', routingKey: 'quorum.100.q' },
      ),
    );
    expect(options.headers).toEqual({ [WARREN_HEADERS.originalExchange]: 'first', [WARREN_HEADERS.originalRoutingKey]: 'first.key' });
  });
});
