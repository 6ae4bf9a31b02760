import * as amqp from 'amqplib';
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
import { decodePayload, encodePayload } from '../support/payload';

const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

/**
 * The reference: raw amqplib written by hand the way a careful user would —
 * a confirm channel with a callback per message, a consumer that acks each
 * message, RPC over direct reply-to with a correlation-id map.
 */
export class AmqplibContender implements Contender {
  readonly name = 'amqplib' as const;

  private async connect(settings: BenchSettings, role: string): Promise<amqp.ChannelModel> {
    const connection = await amqp.connect(settings.url, {
      noDelay: true,
      clientProperties: { connection_name: `${settings.namePrefix}-${role}` },
    });
    connection.on('error', () => undefined);
    return connection;
  }

  private declared(kind: 'publish' | 'consume' | 'rpc', settings: BenchSettings, notes: string[] = []): DeclaredSettings {
    const publishes = kind !== 'consume';
    return {
      confirms: publishes ? true : null,
      noDelay: true,
      prefetch: kind === 'publish' ? null : settings.prefetch,
      persistent: publishes ? true : null,
      notes,
    };
  }

  async openPublisher(settings: BenchSettings, route: Route): Promise<PublisherHandle> {
    const connection = await this.connect(settings, 'publisher');
    const channel = await connection.createConfirmChannel();
    return {
      settings: this.declared('publish', settings),
      publish: (payload: BenchPayload) =>
        new Promise<void>((resolve, reject) => {
          channel.publish(
            route.exchange,
            route.routingKey,
            encodePayload(payload),
            { persistent: true, contentType: 'application/json' },
            (err: Error | null) => (err ? reject(err) : resolve()),
          );
        }),
      close: () => connection.close(),
    };
  }

  async openConsumer(settings: BenchSettings, route: Route, listener: MessageListener, features?: ConsumerFeatures): Promise<ConsumerHandle> {
    if (features?.retry || features?.dedup) throw new ScenarioUnsupportedError(this.name, 'retry/dedup');
    const connection = await this.connect(settings, 'consumer');
    const channel = await connection.createChannel();
    await channel.assertQueue(route.queue, { durable: true });
    await channel.prefetch(settings.prefetch);
    await channel.consume(
      route.queue,
      (msg) => {
        if (!msg) return;
        listener(decodePayload(msg.content));
        channel.ack(msg);
      },
      { noAck: false },
    );
    return {
      settings: this.declared('consume', settings),
      // Channel first: its close-ok comes after every ack it sent. Closing the
      // connection straight away can overtake acks still queued on the channel.
      close: async () => {
        await channel.close();
        await connection.close();
      },
    };
  }

  async openRpc(settings: BenchSettings, route: Route): Promise<RpcHandle> {
    const connection = await this.connect(settings, 'rpc');

    // Server: acks each request after handing the reply to the socket.
    const server = await connection.createChannel();
    await server.assertExchange(route.exchange, 'direct', { durable: true });
    await server.assertQueue(route.queue, { durable: true });
    await server.bindQueue(route.queue, route.exchange, route.routingKey);
    await server.prefetch(settings.prefetch);
    await server.consume(
      route.queue,
      (msg) => {
        if (!msg) return;
        const reply = decodePayload(msg.content);
        server.sendToQueue(msg.properties.replyTo as string, encodePayload(reply), {
          correlationId: msg.properties.correlationId as string,
          contentType: 'application/json',
        });
        server.ack(msg);
      },
      { noAck: false },
    );

    // Client: publishes on a confirm channel that also consumes direct reply-to
    // (both must be the same channel); a call completes when both the confirm
    // and the reply have arrived, as in the libraries that await both.
    const client = await connection.createConfirmChannel();
    const pending = new Map<string, { resolve: (p: BenchPayload) => void; reject: (e: Error) => void }>();
    await client.consume(
      DIRECT_REPLY_TO,
      (msg) => {
        if (!msg) return;
        const waiter = pending.get(msg.properties.correlationId as string);
        if (!waiter) return;
        pending.delete(msg.properties.correlationId as string);
        waiter.resolve(decodePayload(msg.content));
      },
      { noAck: true },
    );
    let nextCorrelation = 0;

    const call = (payload: BenchPayload): Promise<BenchPayload> => {
      const correlationId = String(++nextCorrelation);
      let timer: NodeJS.Timeout | undefined;
      const reply = new Promise<BenchPayload>((resolve, reject) => {
        pending.set(correlationId, { resolve, reject });
        timer = setTimeout(() => {
          pending.delete(correlationId);
          reject(new Error(`RPC timed out after ${settings.rpcTimeoutMs} ms`));
        }, settings.rpcTimeoutMs);
      });
      const confirmed = new Promise<void>((resolve, reject) => {
        client.publish(
          route.exchange,
          route.routingKey,
          encodePayload(payload),
          { persistent: true, contentType: 'application/json', replyTo: DIRECT_REPLY_TO, correlationId },
          (err: Error | null) => (err ? reject(err) : resolve()),
        );
      });
      return Promise.all([reply, confirmed]).then(
        ([r]) => {
          clearTimeout(timer);
          return r;
        },
        (err: unknown) => {
          clearTimeout(timer);
          pending.delete(correlationId);
          throw err;
        },
      );
    };

    return {
      settings: this.declared('rpc', settings, ['requests confirmed and awaited; replies (direct reply-to) neither persistent nor confirmed']),
      call,
      close: async () => {
        await client.close();
        await server.close();
        await connection.close();
      },
    };
  }
}
