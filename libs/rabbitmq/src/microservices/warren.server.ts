import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import type { ConsumeMessage } from 'amqplib';
import { lastValueFrom, isObservable } from 'rxjs';
import { AmqpConnection } from '../facade/amqp-connection';
import type { HandlerDescriptor } from '../consumer/handler-descriptor';
import { installFeatures } from '../features';
import { resolveOptions } from '../options/resolve-options';
import { DEFAULT_TRANSPORT_EXCHANGE, transportExchanges, unroutedName, type WarrenPatternExtras, type WarrenServerOptions } from './warren-transport.options';
import { WarrenRmqContext } from './warren-rmq.context';
import { NoHandlerError } from '../errors/no-handler.error';
import { TransportNotReadyError } from '../errors/transport-not-ready.error';
import { UnsupportedOperationError } from '../errors/unsupported-operation.error';

/**
 * A Nest microservices transport on Warren: `@MessagePattern` / `@EventPattern`
 * handlers get confirmed replies, delayed retry, dead-letter queues and dedup.
 *
 * @example
 * ```ts
 * app.connectMicroservice({ strategy: new WarrenServer({ uri: process.env.AMQP_URL, defaultRetry: { maxAttempts: 5 } }) });
 * ```
 * Patterns are routing keys on a topic exchange: every `@MessagePattern` shares
 * the request queue (dispatched by pattern); each `@EventPattern` gets its own
 * queue. A request whose pattern no queue on the exchange is bound for is
 * answered with an error; such an event is dead-lettered with the reason —
 * never dropped or left unacked (the exchange's alternate exchange catches them).
 */
export class WarrenServer extends Server implements CustomTransportStrategy {
  private connection?: AmqpConnection;
  private readonly exchange: string;

  constructor(private readonly options: WarrenServerOptions) {
    super();
    this.exchange = options.exchange ?? DEFAULT_TRANSPORT_EXCHANGE;
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      await this.start();
      callback();
    } catch (error) {
      callback(error);
    }
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (!connection) return;
    await connection.stopConsumers();
    await connection.close();
  }

  /** The Warren connection behind the transport. */
  unwrap<T>(): T {
    if (!this.connection) throw new TransportNotReadyError('WarrenServer');
    return this.connection as T;
  }

  on(): void {
    throw new UnsupportedOperationError('WarrenServer.on', 'the transport has no events of its own; subscribe to unwrap<AmqpConnection>().status$ instead');
  }

  private async start(): Promise<void> {
    const exchanges = [...transportExchanges(this.exchange), ...(this.options.exchanges ?? [])];
    // The transport's own keys are not connection options (every connection option is checked for unknown keys).
    const { exchange: _exchange, queue: _queue, queueOptions: _queueOptions, eventQueuePrefix: _prefix, ...connectionOptions } = this.options;
    const connection = new AmqpConnection(resolveOptions({ ...connectionOptions, name: 'microservices', exchanges }));
    installFeatures(connection);
    this.connection = connection;
    await connection.init();
    const requestQueue = this.options.queue ?? `${this.exchange}.requests`;
    const eventPrefix = this.options.eventQueuePrefix ?? `${this.exchange}.events`;
    const descriptors: HandlerDescriptor[] = [];
    const requestPatterns: string[] = [];
    const eventPatterns: string[] = [];
    for (const [pattern, handler] of this.messageHandlers) {
      const extras = (handler.extras ?? {}) as WarrenPatternExtras;
      if (handler.isEventHandler) {
        eventPatterns.push(pattern);
        descriptors.push(this.describe(pattern, handler, 'subscribe', extras.queue ?? `${eventPrefix}.${pattern}`, extras));
      } else {
        requestPatterns.push(pattern);
        descriptors.push(this.describe(pattern, handler, 'rpc', requestQueue, extras));
      }
    }
    descriptors.push(this.unknownPatternSink());
    this.logger.log(`WarrenServer listening on exchange '${this.exchange}': ${requestPatterns.length} request and ${eventPatterns.length} event pattern(s)`);
    await connection.registerHandlers(descriptors);
  }

  private describe(pattern: string, handler: MessageHandler, kind: 'rpc' | 'subscribe', queue: string, extras: WarrenPatternExtras): HandlerDescriptor {
    return {
      name: pattern,
      kind,
      config: {
        exchange: this.exchange,
        routingKey: pattern,
        queue,
        queueOptions: extras.queueOptions ?? this.options.queueOptions,
        prefetch: extras.prefetch,
        retry: kind === 'rpc' ? false : extras.retry,
        deadLetter: extras.deadLetter,
        dedup: extras.dedup,
      },
      invoke: async (payload, message, headers) => {
        const context = new WarrenRmqContext([message, headers, pattern]);
        const result: unknown = await handler(payload, context);
        return isObservable(result) ? lastValueFrom(result, { defaultValue: undefined }) : result;
      },
    };
  }

  /** Takes what no queue on the exchange is bound for: requests get an error reply, events a dead letter with the reason. */
  private unknownPatternSink(): HandlerDescriptor {
    const queue = unroutedName(this.exchange);
    return {
      name: `${this.exchange}#unknown-pattern`,
      kind: 'rpc',
      config: { exchange: unroutedName(this.exchange), routingKey: '', queue, retry: false, deadLetter: true },
      invoke: async (_payload, message: ConsumeMessage) => {
        throw new NoHandlerError(queue, message.fields.routingKey);
      },
    };
  }
}
