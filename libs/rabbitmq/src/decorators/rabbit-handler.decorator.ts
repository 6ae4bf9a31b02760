import { SetMetadata } from '@nestjs/common';
import type { HandlerKind } from '../consumer/handler-descriptor';
import type { RabbitHandlerConfig } from '../options/rabbitmq-options.interface';
import { RABBIT_HANDLER_METADATA } from './rabbitmq.constants';

/** What the handler decorators store. */
export interface RabbitHandlerMetadata extends RabbitHandlerConfig {
  kind: HandlerKind;
}

/** Marks a method as a message handler of the given kind. */
export function RabbitHandler(config: RabbitHandlerMetadata): MethodDecorator {
  return SetMetadata(RABBIT_HANDLER_METADATA, config);
}
