import { Catch, UseFilters, type ExceptionFilter } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { RabbitMQMetadataAccessor } from './rabbitmq-metadata.accessor';

@Catch()
class SomeFilter implements ExceptionFilter {
  catch(): void {}
}

class Plain {
  handle(): void {}
}

class OnMethod {
  @UseFilters(SomeFilter)
  handle(): void {}
}

@UseFilters(new SomeFilter())
class OnClass {
  handle(): void {}
}

describe('RabbitMQMetadataAccessor.hasExceptionFilters', () => {
  const accessor = new RabbitMQMetadataAccessor(new Reflector());

  it('sees @UseFilters on the method or on its class, under the key Nest itself writes', () => {
    expect(accessor.hasExceptionFilters(OnMethod.prototype.handle, OnMethod)).toBe(true);
    expect(accessor.hasExceptionFilters(OnClass.prototype.handle, OnClass)).toBe(true);
    expect(accessor.hasExceptionFilters(Plain.prototype.handle, Plain)).toBe(false);
  });
});
