import type { ConsumeMessage } from 'amqplib';
import type { RabbitHandlerConfig } from '../options/rabbitmq-options.interface';

/** Whether the handler's return value is sent back as an RPC reply. */
export type HandlerKind = 'subscribe' | 'rpc';

/** Calls the user's handler (through Nest's guards, interceptors, pipes and filters). */
export type HandlerInvoker = (payload: unknown, message: ConsumeMessage, headers: Record<string, unknown>) => Promise<unknown>;

/** A discovered handler, as the consumer sees it: no Nest metadata, just what to run and how. */
export interface HandlerDescriptor {
  /** `Class.method` unless the config names it. */
  name: string;
  kind: HandlerKind;
  config: RabbitHandlerConfig;
  invoke: HandlerInvoker;
}
