import type { Channel, ConsumeMessage } from 'amqplib';
import { ErrorBehaviorStrategy } from './error-behavior.strategy';
import { ErrorHandlerStrategy } from './error-handler.strategy';
import { DROP, REJECT, REQUEUE, type FailureContext } from './failure-strategy';
import { ackErrorHandler, defaultNackErrorHandler, getHandlerForLegacyBehavior, requeueErrorHandler } from './error-handlers';
import { MessageHandlerErrorBehavior } from '../options/message-handler-error-behavior';

/** A delivery and a channel whose settling methods must never be reached: the strategy only decides. */
function context(): { context: FailureContext; settled: string[] } {
  const settled: string[] = [];
  const channel = {
    ack: () => settled.push('ack'),
    nack: () => settled.push('nack'),
    reject: () => settled.push('reject'),
    checkQueue: (queue: string) => Promise.resolve({ queue }),
  } as unknown as Channel;
  const message = { fields: { deliveryTag: 1, routingKey: 'k' }, properties: { headers: {} }, content: Buffer.from('{}') } as unknown as ConsumeMessage;
  return { context: { queue: 'q', route: undefined, message, error: new Error('boom'), channel }, settled };
}

describe('ErrorHandlerStrategy', () => {
  const fallback = new ErrorBehaviorStrategy('dead-letter');

  it.each([
    ['channel.ack', (ch: Channel, m: ConsumeMessage) => ch.ack(m), DROP],
    ['channel.nack requeue', (ch: Channel, m: ConsumeMessage) => ch.nack(m, false, true), REQUEUE],
    ['channel.nack with amqplib defaults (requeue)', (ch: Channel, m: ConsumeMessage) => ch.nack(m), REQUEUE],
    ['channel.nack no requeue', (ch: Channel, m: ConsumeMessage) => ch.nack(m, false, false), REJECT],
    ['channel.reject no requeue', (ch: Channel, m: ConsumeMessage) => ch.reject(m, false), REJECT],
  ])('records %s as the decision and never settles on the channel itself', async (_name, handler, expected) => {
    const { context: ctx, settled } = context();
    await expect(new ErrorHandlerStrategy(handler, fallback).onFailure(ctx)).resolves.toBe(expected);
    expect(settled).toEqual([]);
  });

  it('keeps the first decision when the handler settles twice', async () => {
    const { context: ctx } = context();
    const twice = (ch: Channel, m: ConsumeMessage): void => {
      ch.ack(m);
      ch.nack(m, false, true);
    };
    await expect(new ErrorHandlerStrategy(twice, fallback).onFailure(ctx)).resolves.toBe(DROP);
  });

  it("falls back to the handler's errorBehavior when it settles nothing, or throws", async () => {
    const { context: ctx } = context();
    await expect(new ErrorHandlerStrategy(() => undefined, fallback).onFailure(ctx)).resolves.toBe(REJECT);
    const throwing = (): void => {
      throw new Error('handler bug');
    };
    await expect(new ErrorHandlerStrategy(throwing, new ErrorBehaviorStrategy('requeue')).onFailure(ctx)).resolves.toBe(REQUEUE);
  });

  it('passes the other channel members through (an async handler may inspect the broker before deciding)', async () => {
    const { context: ctx } = context();
    const inspecting = async (ch: Channel, m: ConsumeMessage): Promise<void> => {
      const { queue } = await ch.checkQueue('parking');
      if (queue === 'parking') ch.reject(m, false);
    };
    await expect(new ErrorHandlerStrategy(inspecting, fallback).onFailure(ctx)).resolves.toBe(REJECT);
  });

  it("golevelup's helpers decide as their names say", async () => {
    const decide = (handler: typeof ackErrorHandler) => new ErrorHandlerStrategy(handler, fallback).onFailure(context().context);
    await expect(decide(ackErrorHandler)).resolves.toBe(DROP);
    await expect(decide(requeueErrorHandler)).resolves.toBe(REQUEUE);
    await expect(decide(defaultNackErrorHandler)).resolves.toBe(REJECT);
    await expect(decide(getHandlerForLegacyBehavior(MessageHandlerErrorBehavior.ACK))).resolves.toBe(DROP);
    await expect(decide(getHandlerForLegacyBehavior(MessageHandlerErrorBehavior.NACK))).resolves.toBe(REJECT);
  });
});
