/** Metadata key under which `@RabbitSubscribe` / `@RabbitRPC` store their handler config. */
export const RABBIT_HANDLER_METADATA = 'warren:rabbit-handler';

/** Metadata key under which parameter decorators store their argument descriptions. */
export const RABBIT_ARGS_METADATA = 'warren:rabbit-args';

/** Context type reported by `ExecutionContext.getType()` inside Warren handlers. */
export const RABBIT_CONTEXT_TYPE = 'rmq';
