import { DynamicModule, Injectable, INestApplicationContext, Module, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  BenchPayload,
  BenchSettings,
  ConsumerFeatures,
  ConsumerHandle,
  Contender,
  ContenderName,
  DeclaredSettings,
  HandlerFleetHandle,
  MessageListener,
  PublisherHandle,
  Route,
  RpcHandle,
} from '../contender';
import { decodePayload } from '../support/payload';

/**
 * The shape shared by @golevelup/nestjs-rabbitmq and Warren (whose public API
 * mirrors it): `RabbitMQModule.forRoot`, an injectable `AmqpConnection` with
 * `publish`/`request`, and the `@RabbitSubscribe` / `@RabbitRPC` decorators.
 * Typed structurally so the same driver serves both.
 */
export type HandlerDecorator = (target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor) => void;

export interface RabbitModuleApi {
  RabbitMQModule: { forRoot(options: never): DynamicModule };
  /** The class used as the injection token of the connection. */
  AmqpConnection: abstract new (...args: never[]) => unknown;
  RabbitSubscribe(config: never): HandlerDecorator;
  RabbitRPC(config: never): HandlerDecorator;
}

export interface AmqpConnectionLike {
  publish(exchange: string, routingKey: string, message: unknown, options?: Record<string, unknown>): Promise<unknown>;
  request<T>(options: { exchange: string; routingKey: string; payload: unknown; timeout?: number } & Record<string, unknown>): Promise<T>;
}

/** What differs between the libraries: their option names. */
export interface RabbitModuleFlavour {
  readonly name: ContenderName;
  readonly api: RabbitModuleApi;
  /** `forRoot` options; `exchanges` are the direct exchanges the trial uses. */
  rootOptions(settings: BenchSettings, exchanges: readonly string[]): Record<string, unknown>;
  subscribeOptions(settings: BenchSettings, route: Route, features?: ConsumerFeatures): Record<string, unknown>;
  rpcOptions(settings: BenchSettings, route: Route): Record<string, unknown>;
  /** Per-call options of `publish` (4th argument). */
  publishOptions(): Record<string, unknown> | undefined;
  /** Extra fields of `request(...)`. */
  requestOptions(): Record<string, unknown>;
  /** Throws `ScenarioUnsupportedError` for features the library lacks. */
  checkFeatures(features?: ConsumerFeatures): void;
  declared(kind: 'publish' | 'consume' | 'rpc' | 'fleet', settings: BenchSettings): DeclaredSettings;
}

/** Nest logs only errors and warnings, to stderr, so a trial's stdout stays its result line. */
const NEST_LOG_LEVELS: ('error' | 'warn')[] = ['error', 'warn'];

export class RabbitModuleContender implements Contender {
  readonly name: ContenderName;

  constructor(private readonly flavour: RabbitModuleFlavour) {
    this.name = flavour.name;
  }

  private async start(settings: BenchSettings, exchanges: readonly string[], providers: Type[]): Promise<INestApplicationContext> {
    const root = this.flavour.api.RabbitMQModule.forRoot(this.flavour.rootOptions(settings, exchanges) as never);

    @Module({ imports: [root], providers })
    class BenchModule {}

    return NestFactory.createApplicationContext(BenchModule, { logger: NEST_LOG_LEVELS, abortOnError: false });
  }

  private connectionOf(app: INestApplicationContext): AmqpConnectionLike {
    return app.get(this.flavour.api.AmqpConnection as unknown as Type<AmqpConnectionLike>);
  }

  async openPublisher(settings: BenchSettings, route: Route): Promise<PublisherHandle> {
    const app = await this.start(settings, [route.exchange], []);
    const amqp = this.connectionOf(app);
    const options = this.flavour.publishOptions();
    return {
      settings: this.flavour.declared('publish', settings),
      // The library's promise as it is (no extra async frame), as the amqplib reference does.
      publish: (payload: BenchPayload) => amqp.publish(route.exchange, route.routingKey, payload, options) as Promise<void>,
      close: () => app.close(),
    };
  }

  async openConsumer(settings: BenchSettings, route: Route, listener: MessageListener, features?: ConsumerFeatures): Promise<ConsumerHandle> {
    this.flavour.checkFeatures(features);
    const subscribe = this.flavour.api.RabbitSubscribe(this.flavour.subscribeOptions(settings, route, features) as never);
    const batched = features?.batch !== undefined;

    @Injectable()
    class BenchSubscriber {
      @subscribe
      handle(message: unknown): void | Promise<void> {
        // A batch handler gets the payloads of its batch as an array.
        if (batched) for (const one of message as unknown[]) void listener(decodePayload(one));
        else return listener(decodePayload(message));
      }
    }

    const app = await this.start(settings, [route.exchange], [BenchSubscriber]);
    const amqp = this.connectionOf(app) as unknown as { partitionGroups?: () => Array<{ instances: number; owned: number[] }> };
    return {
      settings: this.flavour.declared('consume', settings),
      close: () => app.close(),
      ...(typeof amqp.partitionGroups === 'function' ? { partitionGroups: () => amqp.partitionGroups!() } : {}),
    };
  }

  async openRpc(settings: BenchSettings, route: Route): Promise<RpcHandle> {
    const rpc = this.flavour.api.RabbitRPC(this.flavour.rpcOptions(settings, route) as never);

    @Injectable()
    class BenchRpcServer {
      @rpc
      handle(message: unknown): BenchPayload {
        return decodePayload(message);
      }
    }

    const app = await this.start(settings, [route.exchange], [BenchRpcServer]);
    return this.rpcHandle(app, settings, route);
  }

  async openRpcClient(settings: BenchSettings, route: Route): Promise<RpcHandle> {
    const app = await this.start(settings, [route.exchange], []);
    return this.rpcHandle(app, settings, route);
  }

  private rpcHandle(app: INestApplicationContext, settings: BenchSettings, route: Route): RpcHandle {
    const amqp = this.connectionOf(app);
    const extra = this.flavour.requestOptions();
    return {
      settings: this.flavour.declared('rpc', settings),
      call: async (payload: BenchPayload) => {
        const reply = await amqp.request<unknown>({
          ...extra,
          exchange: route.exchange,
          routingKey: route.routingKey,
          payload,
          timeout: settings.rpcTimeoutMs,
        });
        return decodePayload(reply);
      },
      close: () => app.close(),
    };
  }

  async openHandlerFleet(
    settings: BenchSettings,
    routes: readonly Route[],
    listener: (index: number, payload: BenchPayload) => void,
  ): Promise<HandlerFleetHandle> {
    // One provider with one decorated method per route, built at run time
    // (decorators applied by hand, exactly as the compiler would).
    class BenchFleet {}
    routes.forEach((route, index) => {
      const key = `handle${index}`;
      Object.defineProperty(BenchFleet.prototype, key, {
        value: function handle(message: unknown): void {
          listener(index, decodePayload(message));
        },
        writable: true,
        configurable: true,
        enumerable: false,
      });
      const decorate = this.flavour.api.RabbitSubscribe(this.flavour.subscribeOptions(settings, route) as never);
      const descriptor = Object.getOwnPropertyDescriptor(BenchFleet.prototype, key)!;
      // A legacy method decorator may return a replacement descriptor.
      const replaced = decorate(BenchFleet.prototype, key, descriptor) as unknown;
      if (replaced && typeof replaced === 'object') Object.defineProperty(BenchFleet.prototype, key, replaced as PropertyDescriptor);
    });
    Injectable()(BenchFleet);

    const exchanges = [...new Set(routes.map((r) => r.exchange))];
    const app = await this.start(settings, exchanges, [BenchFleet]);
    return { settings: this.flavour.declared('fleet', settings), close: () => app.close() };
  }
}
