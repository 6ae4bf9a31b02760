import { Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { RabbitHandlerMetadata } from '../decorators/rabbit-handler.decorator';
import { RABBIT_HANDLER_METADATA } from '../rabbitmq.constants';

/** Every Reflector read of Warren's metadata, in one place. */
@Injectable()
export class RabbitMQMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  getHandlerMetadata(target: Function): RabbitHandlerMetadata | undefined {
    return this.reflector.get<RabbitHandlerMetadata | undefined>(RABBIT_HANDLER_METADATA, target);
  }
}
