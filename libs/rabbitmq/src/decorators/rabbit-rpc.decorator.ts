import type { RabbitHandlerConfig } from '../options/rabbitmq-options.interface';
import { RabbitHandler } from './rabbit-handler.decorator';

/**
 * Serves requests: the method's return value is the reply. A thrown error is
 * sent back and rejects the caller's promise with an RpcRemoteError at once.
 *
 * @example
 * ```ts
 * @RabbitRPC({ exchange: 'inventory', routingKey: 'inventory.reserve', queue: 'inventory.rpc' })
 * reserve(request: ReserveRequest): ReserveReply { ... }
 * ```
 */
export function RabbitRPC(config: RabbitHandlerConfig = {}): MethodDecorator {
  return RabbitHandler({ ...config, kind: 'rpc' });
}
