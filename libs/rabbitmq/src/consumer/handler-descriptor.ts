import type { ConsumeMessage } from 'amqplib';
import type { RabbitHandlerConfig } from '../options/rabbitmq-options.interface';

/** Whether the handler's return value is sent back as an RPC reply. */
export type HandlerKind = 'subscribe' | 'rpc';

/** Calls the user's handler (through Nest's guards, interceptors, pipes and filters). */
export type HandlerInvoker = (payload: unknown, message: ConsumeMessage, headers: Record<string, unknown>) => Promise<unknown>;

/** Calls a batch handler with the batch's payloads, raw messages and headers, in delivery order. */
export type BatchHandlerInvoker = (payloads: unknown[], messages: ConsumeMessage[], headers: Array<Record<string, unknown>>) => Promise<unknown>;

/** A discovered handler, as the consumer sees it: no Nest metadata, just what to run and how. */
export interface HandlerDescriptor {
  /** `Class.method` unless the config names it. */
  name: string;
  kind: HandlerKind;
  config: RabbitHandlerConfig;
  invoke: HandlerInvoker;
  /** How to call the handler with a whole batch; used when `config.batch` (or `batchOptions`) is set. */
  invokeBatch?: BatchHandlerInvoker;
}
