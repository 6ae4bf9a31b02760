import type { PipeTransform, Type } from '@nestjs/common';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { RABBIT_ARGS_METADATA, RABBIT_HEADER_TYPE, RABBIT_PARAM_TYPE, RABBIT_REQUEST_TYPE } from './rabbitmq.constants';

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
    // Nest resolves a pipe class only from a module's injectables, which handler parameters are not: it would
    // skip the class without a word. A class is therefore constructed here, without arguments (give an
    // instance for a pipe that needs options or dependencies).
    const instances = pipes.map((pipe) => (typeof pipe === 'function' ? new pipe() : pipe));
    Reflect.defineMetadata(RABBIT_ARGS_METADATA, { ...existing, [`${type}:${index}`]: { index, data, pipes: instances } }, target.constructor, key);
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

/** The raw amqplib message (fields, properties, content), or one property of it (`'properties'`, `'fields'`); pipes apply. */
export function RabbitRequest(propertyOrPipe?: string | PipeLike, ...pipes: PipeLike[]): ParameterDecorator {
  const [property, allPipes] = split(propertyOrPipe, pipes);
  return createParamDecorator(RabbitParamType.REQUEST, property, allPipes);
}

const GOLEVELUP_PARAM_TYPES: Record<number, RabbitParamType> = {
  [RABBIT_PARAM_TYPE]: RabbitParamType.PAYLOAD,
  [RABBIT_HEADER_TYPE]: RabbitParamType.HEADER,
  [RABBIT_REQUEST_TYPE]: RabbitParamType.REQUEST,
};

/**
 * golevelup's `createPipesRpcParamDecorator(data, type, ...pipes)`: a parameter decorator of one of its
 * kinds — `RABBIT_PARAM_TYPE` (the payload, the default), `RABBIT_HEADER_TYPE` (headers) or
 * `RABBIT_REQUEST_TYPE` (the raw message) — for `data` (a property or header name, or undefined for
 * all) with pipes. Same as `RabbitPayload` / `RabbitHeader` / `RabbitRequest`. Any other `type`
 * throws InvalidOptionsError where the class is defined.
 */
export function createPipesRpcParamDecorator(data?: unknown, type: number = RABBIT_PARAM_TYPE, ...pipes: PipeLike[]): ParameterDecorator {
  const kind = GOLEVELUP_PARAM_TYPES[type];
  if (kind === undefined) {
    throw new InvalidOptionsError([
      `createPipesRpcParamDecorator: type ${String(type)} is not a parameter kind; use RABBIT_PARAM_TYPE (${RABBIT_PARAM_TYPE}, the payload), ` +
        `RABBIT_HEADER_TYPE (${RABBIT_HEADER_TYPE}, headers) or RABBIT_REQUEST_TYPE (${RABBIT_REQUEST_TYPE}, the raw message)`,
    ]);
  }
  // golevelup passes a pipe given as `data` on as a pipe (RabbitPayload(pipe) calls it so).
  const [property, allPipes] = typeof data === 'string' || data === undefined ? [data, pipes] : split(data as PipeLike, pipes);
  return createParamDecorator(kind, property, allPipes);
}
