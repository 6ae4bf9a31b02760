import type { PipeTransform, Type } from '@nestjs/common';
import { RABBIT_ARGS_METADATA } from './rabbitmq.constants';

/**
 * The kinds of handler parameters Warren can inject. Nest names a parameter's
 * kind to pipes from these numbers with its route enum: 3 is `body`, and every
 * number but 3, 4 and 5 is `custom`, which `ValidationPipe` skips without
 * validating. The payload therefore uses 3, as @nestjs/microservices' `@Payload()` does.
 */
export enum RabbitParamType {
  REQUEST = 0,
  HEADER = 1,
  PAYLOAD = 3,
}

type PipeLike = PipeTransform | Type<PipeTransform>;

function createParamDecorator(type: RabbitParamType, data: string | undefined, pipes: PipeLike[]): ParameterDecorator {
  return (target, key, index) => {
    if (key === undefined) return;
    const existing = (Reflect.getMetadata(RABBIT_ARGS_METADATA, target.constructor, key) ?? {}) as Record<string, unknown>;
    Reflect.defineMetadata(RABBIT_ARGS_METADATA, { ...existing, [`${type}:${index}`]: { index, data, pipes } }, target.constructor, key);
  };
}

function split(propertyOrPipe: string | PipeLike | undefined, pipes: PipeLike[]): [string | undefined, PipeLike[]] {
  if (propertyOrPipe === undefined || typeof propertyOrPipe === 'string') return [propertyOrPipe, pipes];
  return [undefined, [propertyOrPipe, ...pipes]];
}

/** The deserialized payload, or one property of it; pipes (e.g. ValidationPipe) apply. */
export function RabbitPayload(propertyOrPipe?: string | PipeLike, ...pipes: PipeLike[]): ParameterDecorator {
  const [property, allPipes] = split(propertyOrPipe, pipes);
  return createParamDecorator(RabbitParamType.PAYLOAD, property, allPipes);
}

/** All headers, or one header by name. */
export function RabbitHeader(nameOrPipe?: string | PipeLike, ...pipes: PipeLike[]): ParameterDecorator {
  const [name, allPipes] = split(nameOrPipe, pipes);
  return createParamDecorator(RabbitParamType.HEADER, name, allPipes);
}

/** The raw amqplib message (fields, properties, content). */
export function RabbitRequest(): ParameterDecorator {
  return createParamDecorator(RabbitParamType.REQUEST, undefined, []);
}
