import type { ConsumeMessage, MessageProperties } from 'amqplib';
import { RabbitParamsFactory } from '../discovery/rabbit-params.factory';
import { RABBIT_ARGS_METADATA } from '../decorators/rabbitmq.constants';

/** What a test message looks like; everything but the payload is optional. */
export interface TestMessage {
  payload?: unknown;
  headers?: Record<string, unknown>;
  routingKey?: string;
  exchange?: string;
  properties?: Partial<MessageProperties>;
  redelivered?: boolean;
}

/** Builds an amqplib message as a consumer would receive it (JSON body). */
export function createTestMessage(message: TestMessage = {}): ConsumeMessage {
  const body =
    message.payload === undefined ? Buffer.alloc(0) : Buffer.isBuffer(message.payload) ? message.payload : Buffer.from(JSON.stringify(message.payload));
  return {
    content: body,
    fields: {
      deliveryTag: 1,
      redelivered: message.redelivered ?? false,
      exchange: message.exchange ?? '',
      routingKey: message.routingKey ?? '',
      consumerTag: 'test',
    },
    properties: {
      contentType: 'application/json',
      headers: message.headers ?? {},
      ...message.properties,
    } as MessageProperties,
  };
}

/**
 * Calls a decorated handler method directly, as Warren would, with its
 * parameter decorators (`@RabbitPayload`, `@RabbitHeader`, `@RabbitRequest`)
 * resolved from the test message — for unit tests without a broker. Guards,
 * interceptors and pipes do not run here; test those through a real app.
 */
export async function invokeHandler<T extends object>(instance: T, method: keyof T & string, message: TestMessage = {}): Promise<unknown> {
  const raw = createTestMessage(message);
  const headers = (raw.properties.headers ?? {}) as Record<string, unknown>;
  const args: unknown[] = [message.payload, raw, headers];
  const metadata = Reflect.getMetadata(RABBIT_ARGS_METADATA, instance.constructor, method) as Record<string, { index: number; data?: unknown }> | undefined;
  const callback = instance[method] as unknown as (...a: unknown[]) => unknown;
  if (!metadata) return callback.apply(instance, args);
  const factory = new RabbitParamsFactory();
  const positional: unknown[] = [];
  for (const [key, { index, data }] of Object.entries(metadata)) {
    positional[index] = factory.exchangeKeyForValue(Number(key.split(':')[0]), data, args);
  }
  return callback.apply(instance, positional);
}
