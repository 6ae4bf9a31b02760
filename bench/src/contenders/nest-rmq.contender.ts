import { Controller, INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientProxyFactory, ClientRMQ, Ctx, EventPattern, MessagePattern, Payload, RmqContext, RmqOptions, Transport } from '@nestjs/microservices';
import { lastValueFrom, timeout } from 'rxjs';
import type { Channel, Message } from 'amqplib';
import {
  BenchPayload,
  BenchSettings,
  ConsumerFeatures,
  ConsumerHandle,
  Contender,
  DeclaredSettings,
  MessageListener,
  PublisherHandle,
  Route,
  RpcHandle,
  ScenarioUnsupportedError,
} from '../contender';
import { decodePayload } from '../support/payload';

const EVENT_PATTERN = 'bench.event';
const RPC_PATTERN = 'bench.rpc';
const NEST_LOG_LEVELS: ('error' | 'warn')[] = ['error', 'warn'];

/**
 * @nestjs/microservices' RMQ transport: ServerRMQ through
 * `app.connectMicroservice`, ClientRMQ through `ClientProxyFactory.create`.
 *
 * What its API allows, and what it does not:
 * - The transport works on one queue: the client `sendToQueue`s to it through
 *   the default exchange (route.exchange is not used), the server consumes it.
 * - `emit()` is confirmed: ClientRMQ's channel is amqp-connection-manager's
 *   default confirm channel and `emit` resolves on the confirm callback. There
 *   is no option to turn this on or off.
 * - `send()` (RPC) publishes on the same confirm channel but does not wait for
 *   the confirm: the reply completes the call.
 * - With `noAck: false` the server does not ack for you: handlers ack through
 *   RmqContext. The client must keep `noAck` at its default (true): direct
 *   reply-to refuses acked consumers.
 * - `persistent: true` makes requests and events persistent; replies are not.
 */
export class NestRmqContender implements Contender {
  readonly name = 'nest-rmq' as const;

  private socketOptions(settings: BenchSettings, role: string) {
    return { connectionOptions: { noDelay: true, clientProperties: { connection_name: `${settings.namePrefix}-${role}` } } };
  }

  private serverOptions(settings: BenchSettings, route: Route): RmqOptions {
    return {
      transport: Transport.RMQ,
      options: {
        urls: [settings.url],
        queue: route.queue,
        noAck: false,
        prefetchCount: settings.prefetch,
        persistent: true,
        queueOptions: { durable: true },
        socketOptions: this.socketOptions(settings, 'server'),
      },
    };
  }

  private async openClient(settings: BenchSettings, route: Route): Promise<ClientRMQ> {
    const client = ClientProxyFactory.create({
      transport: Transport.RMQ,
      options: {
        urls: [settings.url],
        queue: route.queue,
        persistent: true,
        queueOptions: { durable: true },
        socketOptions: this.socketOptions(settings, 'client'),
      },
    }) as ClientRMQ;
    await client.connect();
    return client;
  }

  /** A Nest application (not listening on HTTP) with the RMQ microservice attached. */
  private async startServer(settings: BenchSettings, route: Route, controller: new (...args: never[]) => unknown): Promise<INestApplication> {
    @Module({ controllers: [controller] })
    class BenchModule {}

    const app = await NestFactory.create(BenchModule, { logger: NEST_LOG_LEVELS, abortOnError: false });
    app.connectMicroservice<RmqOptions>(this.serverOptions(settings, route));
    await app.startAllMicroservices();
    await app.init();
    return app;
  }

  private declared(kind: 'publish' | 'consume' | 'rpc', settings: BenchSettings): DeclaredSettings {
    const notes = ['publishes to the queue through the default exchange (ClientRMQ has no exchange/routing key without wildcards)'];
    if (kind === 'publish') notes.push('emit() resolves on the publisher confirm (ClientRMQ uses a confirm channel; not configurable)');
    if (kind === 'rpc')
      notes.push('send() does not await the confirm of the request; replies are not persistent; ClientRMQ sets prefetch 0 (unlimited) on its reply channel');
    if (kind !== 'publish') notes.push('noAck: false; the handler acks via RmqContext (Nest does not ack for you)');
    return {
      confirms: kind === 'publish' ? true : kind === 'rpc' ? false : null,
      noDelay: true,
      prefetch: kind === 'publish' ? null : settings.prefetch,
      persistent: kind === 'consume' ? null : true,
      notes,
    };
  }

  encodeForQueue(payload: BenchPayload): Buffer {
    // The packet ServerRMQ expects; no `id` makes it an event.
    return Buffer.from(JSON.stringify({ pattern: EVENT_PATTERN, data: payload }));
  }

  async openPublisher(settings: BenchSettings, route: Route): Promise<PublisherHandle> {
    const client = await this.openClient(settings, route);
    return {
      settings: this.declared('publish', settings),
      publish: async (payload: BenchPayload) => {
        await lastValueFrom(client.emit(EVENT_PATTERN, payload), { defaultValue: undefined });
      },
      close: () => client.close(),
    };
  }

  async openConsumer(settings: BenchSettings, route: Route, listener: MessageListener, features?: ConsumerFeatures): Promise<ConsumerHandle> {
    if (features?.retry || features?.dedup || features?.partitions) throw new ScenarioUnsupportedError(this.name, 'retry/dedup/partitions');

    @Controller()
    class BenchEventController {
      @EventPattern(EVENT_PATTERN)
      handle(@Payload() data: unknown, @Ctx() context: RmqContext): void {
        void listener(decodePayload(data));
        (context.getChannelRef() as Channel).ack(context.getMessage() as Message);
      }
    }

    const app = await this.startServer(settings, route, BenchEventController);
    return { settings: this.declared('consume', settings), close: () => app.close() };
  }

  async openRpc(settings: BenchSettings, route: Route): Promise<RpcHandle> {
    @Controller()
    class BenchRpcController {
      @MessagePattern(RPC_PATTERN)
      handle(@Payload() data: unknown, @Ctx() context: RmqContext): BenchPayload {
        (context.getChannelRef() as Channel).ack(context.getMessage() as Message);
        return decodePayload(data);
      }
    }

    const app = await this.startServer(settings, route, BenchRpcController);
    const client = await this.openClient(settings, route);
    return {
      settings: this.declared('rpc', settings),
      call: async (payload: BenchPayload) => {
        const reply = await lastValueFrom(client.send<unknown, BenchPayload>(RPC_PATTERN, payload).pipe(timeout(settings.rpcTimeoutMs)));
        return decodePayload(reply);
      },
      close: async () => {
        await client.close();
        await app.close();
      },
    };
  }
}
