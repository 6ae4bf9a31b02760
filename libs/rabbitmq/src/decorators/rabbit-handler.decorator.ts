import { SetMetadata } from '@nestjs/common';
import type { HandlerKind } from '../consumer/handler-descriptor';
import type { RabbitHandlerConfig } from '../options/rabbitmq-options.interface';
import { RABBIT_HANDLER_METADATA } from './rabbitmq.constants';

/** What the handler decorators store. */
export interface RabbitHandlerMetadata extends RabbitHandlerConfig {
  kind: HandlerKind;
}

/** golevelup's form of the same: the kind is called `type`. */
export interface LegacyRabbitHandlerMetadata extends RabbitHandlerConfig {
  type: HandlerKind;
}

/** Marks a method as a message handler of the given kind (`kind`, or golevelup's `type`). */
export function RabbitHandler(config: RabbitHandlerMetadata | LegacyRabbitHandlerMetadata): MethodDecorator {
  if ('kind' in config) return SetMetadata(RABBIT_HANDLER_METADATA, config);
  const { type, ...rest } = config;
  return SetMetadata(RABBIT_HANDLER_METADATA, { ...rest, kind: type });
}

/**
 * golevelup's decorator factory: fixes some handler options (and its `type`, Warren's `kind`) and
 * returns a decorator that takes the rest.
 *
 * @example
 * ```ts
 * const AuditSubscribe = makeRabbitDecorator({ type: 'subscribe', exchange: 'audit' });
 * ```
 */
export function makeRabbitDecorator<T extends Partial<RabbitHandlerConfig> & ({ type: HandlerKind } | { kind: HandlerKind })>(
  input: T,
): (config: Omit<RabbitHandlerConfig, keyof T>) => MethodDecorator {
  const { type, kind, ...fixed } = input as Partial<RabbitHandlerConfig> & { type?: HandlerKind; kind?: HandlerKind };
  return (config) => RabbitHandler({ ...fixed, ...config, kind: (kind ?? type) as HandlerKind });
}
