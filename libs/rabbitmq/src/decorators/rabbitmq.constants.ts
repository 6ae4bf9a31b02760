/** Metadata key under which `@RabbitSubscribe` / `@RabbitRPC` store their handler config. */
export const RABBIT_HANDLER_METADATA = 'warren:rabbit-handler';

/** Metadata key under which parameter decorators store their argument descriptions. */
export const RABBIT_ARGS_METADATA = 'warren:rabbit-args';

/** Context type reported by `ExecutionContext.getType()` inside Warren handlers. */
export const RABBIT_CONTEXT_TYPE = 'rmq';

/** golevelup's parameter kind of the payload, for `createPipesRpcParamDecorator` (Warren's `RabbitParamType.PAYLOAD`). */
export const RABBIT_PARAM_TYPE = 3;
/** golevelup's parameter kind of the headers, for `createPipesRpcParamDecorator` (Warren's `RabbitParamType.HEADER`). */
export const RABBIT_HEADER_TYPE = 4;
/** golevelup's parameter kind of the raw message, for `createPipesRpcParamDecorator` (Warren's `RabbitParamType.REQUEST`). */
export const RABBIT_REQUEST_TYPE = 5;
