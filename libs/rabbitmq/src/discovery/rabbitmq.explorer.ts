import { Injectable, Logger } from '@nestjs/common';
import { DiscoveryService, ExternalContextCreator, MetadataScanner } from '@nestjs/core';
import type { HandlerDescriptor } from '../consumer/handler-descriptor';
import { RABBIT_ARGS_METADATA, RABBIT_CONTEXT_TYPE } from '../decorators/rabbitmq.constants';
import { BATCH_CALL, RabbitParamsFactory } from './rabbit-params.factory';
import { RabbitMQMetadataAccessor } from './rabbitmq-metadata.accessor';

/** A handler found by scanning, before it is bound to a connection. */
export interface DiscoveredHandler extends HandlerDescriptor {
  connection: string | undefined;
}

/**
 * Finds `@RabbitSubscribe` / `@RabbitRPC` methods on providers (and controllers
 * when asked) and wraps each in Nest's external context, so guards,
 * interceptors, pipes and exception filters (`@UseFilters` on the method or
 * class) apply to it.
 */
@Injectable()
export class RabbitMQExplorer {
  private readonly logger = new Logger('RabbitMQ');
  private readonly paramsFactory = new RabbitParamsFactory();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly accessor: RabbitMQMetadataAccessor,
    private readonly contextCreator: ExternalContextCreator,
  ) {}

  explore(includeControllers: boolean): DiscoveredHandler[] {
    const wrappers = [...this.discovery.getProviders(), ...(includeControllers ? this.discovery.getControllers() : [])];
    const handlers: DiscoveredHandler[] = [];
    const seen = new Set<unknown>();
    for (const wrapper of wrappers) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || seen.has(instance)) continue;
      const prototype = Object.getPrototypeOf(instance) as object | null;
      if (!prototype) continue;
      const methods = this.scanner.getAllMethodNames(prototype);
      const found = methods.filter((m) => typeof instance[m] === 'function' && this.accessor.getHandlerMetadata(instance[m]));
      if (found.length === 0) continue;
      seen.add(instance);
      const className = (wrapper.metatype as Function | undefined)?.name ?? instance.constructor.name;
      if (!wrapper.isDependencyTreeStatic()) {
        this.logger.warn(
          `${className} is request-scoped (or depends on a request-scoped provider); its handlers ${found.join(', ')} are NOT registered. ` +
            `Message handlers need singleton providers: move them to a default-scoped class.`,
        );
        continue;
      }
      for (const method of found) handlers.push(this.describe(instance, className, method));
    }
    return handlers;
  }

  private describe(instance: Record<string, unknown>, className: string, method: string): DiscoveredHandler {
    const callback = instance[method] as (...args: unknown[]) => unknown;
    const metadata = this.accessor.getHandlerMetadata(callback)!;
    const { kind, ...config } = metadata;
    const invoke = this.contextCreator.create(
      instance,
      callback,
      method,
      RABBIT_ARGS_METADATA,
      this.paramsFactory,
      undefined,
      undefined,
      // Without filters of its own, a handler's error goes straight to the dispatcher, which logs it once
      // with what happens next (retry, dead letter); Nest's fallback filter would log every failure with a stack.
      { guards: true, interceptors: true, filters: this.accessor.hasExceptionFilters(callback, instance.constructor) },
      RABBIT_CONTEXT_TYPE,
    );
    const call = invoke as (...args: unknown[]) => Promise<unknown>;
    return {
      name: config.name ?? `${className}.${method}`,
      kind,
      config,
      connection: config.connection,
      invoke: call,
      // The handler itself receives the three arrays; the marker only tells the parameter decorators.
      invokeBatch: (payloads, messages, headers) => call(payloads, messages, headers, BATCH_CALL),
    };
  }
}
