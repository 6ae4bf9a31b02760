import { Injectable } from '@nestjs/common';
import { EXCEPTION_FILTERS_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import type { RabbitHandlerMetadata } from '../decorators/rabbit-handler.decorator';
import { RABBIT_HANDLER_METADATA } from '../decorators/rabbitmq.constants';

/** Every Reflector read of Warren's metadata, in one place. */
@Injectable()
export class RabbitMQMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  getHandlerMetadata(target: Function): RabbitHandlerMetadata | undefined {
    return this.reflector.get<RabbitHandlerMetadata | undefined>(RABBIT_HANDLER_METADATA, target);
  }

  /** Whether `@UseFilters` applies to the method or its class. */
  hasExceptionFilters(method: Function, classRef: Function): boolean {
    const onMethod = this.reflector.get<unknown[] | undefined>(EXCEPTION_FILTERS_METADATA, method);
    const onClass = this.reflector.get<unknown[] | undefined>(EXCEPTION_FILTERS_METADATA, classRef);
    return (onMethod?.length ?? 0) + (onClass?.length ?? 0) > 0;
  }
}
