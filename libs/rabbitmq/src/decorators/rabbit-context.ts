import type { ExecutionContext } from '@nestjs/common';
import { RABBIT_CONTEXT_TYPE } from './rabbitmq.constants';

/** golevelup's name for the context type of Warren handlers (`'rmq'`), the same as RABBIT_CONTEXT_TYPE. */
export const RABBIT_CONTEXT_TYPE_KEY = RABBIT_CONTEXT_TYPE;

/** Whether a guard, interceptor or filter runs for a Warren message handler (and not, say, an HTTP request). */
export function isRabbitContext(context: ExecutionContext): boolean {
  return context.getType<string>() === RABBIT_CONTEXT_TYPE;
}
