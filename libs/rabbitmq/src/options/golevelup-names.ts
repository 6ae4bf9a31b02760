import type { ConsumeMessage } from 'amqplib';
import type { Serializer } from '../message/serializer';
import { JsonSerializer } from '../message/serializer';
import { MessageHandlerErrorBehavior, type MessageDeserializer, type MessageSerializer } from './message-handler-error-behavior';
import { checkShape, type OptionProblem } from './option-shape';
import { HANDLER_SHAPE } from './rabbitmq-options.shape';
import type { ErrorBehavior, RabbitHandlerConfig } from './rabbitmq-options.interface';

/** golevelup's error behaviours as Warren's; Warren's pass through. */
export function normalizeErrorBehavior(value: ErrorBehavior | MessageHandlerErrorBehavior | undefined): ErrorBehavior | undefined {
  switch (value) {
    case MessageHandlerErrorBehavior.ACK:
      return 'ack';
    case MessageHandlerErrorBehavior.NACK:
      return 'dead-letter';
    case MessageHandlerErrorBehavior.REQUEUE:
      return 'requeue';
    default:
      return value;
  }
}

/** A Serializer from golevelup's serializer and deserializer functions (or Warren's Serializer, which passes through). */
export function serializerFrom(
  serializer: Serializer | MessageSerializer | undefined,
  deserializer: MessageDeserializer | undefined,
  base: Serializer = new JsonSerializer(),
): Serializer | undefined {
  if (typeof serializer !== 'function' && deserializer === undefined) return serializer;
  const inner = typeof serializer === 'function' || serializer === undefined ? base : serializer;
  const serialize = typeof serializer === 'function' ? serializer : (value: unknown) => inner.serialize(value);
  return {
    contentType: inner.contentType,
    serialize,
    deserialize: (body: Buffer, contentType: string | undefined, message?: ConsumeMessage) =>
      deserializer !== undefined && message !== undefined ? deserializer(body, message) : inner.deserialize(body, contentType, message),
  };
}

/** What resolving a handler's options needs from its connection. */
export interface HandlerDefaults {
  /** The connection's serializer, which a handler's `deserializer` replaces for incoming bodies. */
  serializer: Serializer;
  /** The shared channel of handlers that name none (golevelup's `channels.x.default`). */
  defaultChannel: string | undefined;
  /** Consumer tags set on module-level queues, by queue name. */
  queueConsumerTags: ReadonlyMap<string, string>;
}

/**
 * Checks one handler's options (decorator and module-level override merged) for unknown keys
 * and wrong types, and moves golevelup's names to Warren's: `queueOptions.channel`,
 * `queueOptions.consumerOptions`, `queueOptions.bindQueueArguments`, `createQueueIfNotExists`,
 * `consumerTag`, `deserializer` and the `MessageHandlerErrorBehavior` values.
 */
export function resolveHandlerConfig(config: RabbitHandlerConfig, defaults: HandlerDefaults): { config: RabbitHandlerConfig; problems: OptionProblem[] } {
  const problems = checkShape(config, HANDLER_SHAPE);
  if (problems.length > 0) return { config, problems };
  const either = <T>(field: string, value: T | undefined, otherField: string, other: T | undefined): T | undefined => {
    if (value !== undefined && other !== undefined && value !== other) {
      problems.push({ path: field, message: `${field} and ${otherField} are the same setting with two values; keep one` });
    }
    return value ?? other;
  };
  const { channel: queueChannel, consumerOptions: queueConsumerOptions, bindQueueArguments, ...queueOptions } = config.queueOptions ?? {};
  const { createQueueIfNotExists, consumerTag, deserializer, ...rest } = config;
  const consumerOptions = { ...queueConsumerOptions, ...config.consumerOptions };
  const tag = either('consumerTag', consumerTag, 'consumerOptions.consumerTag', consumerOptions.consumerTag);
  const moduleTag = config.queue === undefined ? undefined : defaults.queueConsumerTags.get(config.queue);
  if (tag !== undefined || moduleTag !== undefined) consumerOptions.consumerTag = tag ?? moduleTag;
  if (createQueueIfNotExists === false) queueOptions.passive ??= true;
  const resolved: RabbitHandlerConfig = {
    ...rest,
    queueOptions,
    // Partitions and stream readers consume on channels of their own (they close them to hand a queue over in order).
    channel:
      either('channel', config.channel, 'queueOptions.channel', queueChannel) ?? (config.partitions || config.stream ? undefined : defaults.defaultChannel),
    bindingArguments: either('bindingArguments', config.bindingArguments, 'queueOptions.bindQueueArguments', bindQueueArguments),
    consumerOptions: Object.keys(consumerOptions).length > 0 ? consumerOptions : undefined,
    errorBehavior: normalizeErrorBehavior(config.errorBehavior),
  };
  if (deserializer !== undefined) resolved.serializer = serializerFrom(undefined, deserializer, config.serializer ?? defaults.serializer);
  for (const key of Object.keys(resolved) as Array<keyof RabbitHandlerConfig>) if (resolved[key] === undefined) delete resolved[key];
  return { config: resolved, problems };
}
