/**
 * `@warren/rabbitmq/microservices`: Warren as a Nest microservices transport.
 * A separate entry point so applications without @nestjs/microservices never load it.
 */
export { WarrenServer } from './warren.server';
export { WarrenClient } from './warren.client';
export type { WarrenClientOptions } from './warren.client';
export { WarrenRmqContext } from './warren-rmq.context';
export { WarrenRpcExceptionFilter } from './warren-rpc-exception.filter';
export { DEFAULT_TRANSPORT_EXCHANGE } from './warren-transport.options';
export type { WarrenPatternExtras, WarrenServerOptions, WarrenTransportOptions } from './warren-transport.options';
