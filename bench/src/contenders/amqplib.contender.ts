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
import { coalesceSocketWrites } from '../support/coalesce-writes';
import { decodePayload, encodePayload } from '../support/payload';

const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

/** Publish properties, built once: amqplib copies what it needs into each frame. */
const PUBLISH_OPTIONS = { persistent: true, contentType: 'application/json' } as const;

/**
 * The reference: the tightest correct client written against raw amqplib, so every
 * ratio in the report is to the limit of the library underneath, not to a strawman.
 *
 * - publish: one confirm channel, a callback per message (no per-publish
 *   `waitForConfirms`), properties built once, and drain handling: when `publish`
 *   returns false, further writes wait for the channel's 'drain' instead of piling up
 *   in amqplib's buffer.
 * - consume: prefetch, one ack per message right after the listener ran.
 * - RPC: direct reply-to with a correlation-id map on a plain channel; requests are
 *   neither confirmed nor persistent (a lost request shows up as the caller's
 *   timeout, which a request/reply caller needs anyway), with a per-call timer.
 * - every connection: the frames written in one turn of the event loop leave the socket
 *   in one `writev` (see `coalesceSocketWrites`); amqplib alone writes each frame with
 *   a system call of its own, which costs a quarter of the publishing client's CPU.
 *
 * `amqplib-plain` is the same client without that last point: raw amqplib as its API
 * gives it, for comparison; it is not the reference.
 */
export class AmqplibContender implements Contender {
  constructor(
    readonly name: 'amqplib' | 'amqplib-plain' = 'amqplib',
    private readonly coalesce = name === 'amqplib',
  ) {}

  private async connect(settings: BenchSettings, role: string): Promise<amqp.ChannelModel> {
    const connection = await amqp.connect(settings.url, {
      noDelay: true,
      clientProperties: { connection_name: `${settings.namePrefix}-${role}` },
    });
    connection.on('error', () => undefined);
    if (this.coalesce) coalesceSocketWrites(connection);
    return connection;
  }

  private declared(kind: 'publish' | 'consume' | 'rpc', settings: BenchSettings, notes: string[] = []): DeclaredSettings {
    return {
      confirms: kind === 'publish' ? true : kind === 'rpc' ? false : null,
      noDelay: true,
      prefetch: kind === 'publish' ? null : settings.prefetch,
      persistent: kind === 'publish' ? true : kind === 'rpc' ? false : null,
      notes,
    };
  }

  async openPublisher(settings: BenchSettings, route: Route): Promise<PublisherHandle> {
    const connection = await this.connect(settings, 'publisher');
    const channel = await connection.createConfirmChannel();
    // Writes held back while the socket buffer is full, sent on 'drain' in order.
    let full = false;
    const held: (() => void)[] = [];
    channel.on('drain', () => {
      full = false;
      while (!full && held.length > 0) (held.shift() as () => void)();
    });
    const send = (payload: BenchPayload, resolve: () => void, reject: (err: Error) => void): void => {
      const room = channel.publish(route.exchange, route.routingKey, encodePayload(payload), PUBLISH_OPTIONS, (err: Error | null) =>
        err ? reject(err) : resolve(),
      );
      if (!room) full = true;
    };
    return {
      settings: this.declared('publish', settings),
      publish: (payload: BenchPayload) =>
        new Promise<void>((resolve, reject) => {
          if (full) held.push(() => send(payload, resolve, reject));
          else send(payload, resolve, reject);
        }),
      close: () => connection.close(),
    };
  }

  async openConsumer(settings: BenchSettings, route: Route, listener: MessageListener, features?: ConsumerFeatures): Promise<ConsumerHandle> {
    if (features?.retry || features?.dedup || features?.partitions) throw new ScenarioUnsupportedError(this.name, 'retry/dedup/partitions');
    const connection = await this.connect(settings, 'consumer');
    const channel = await connection.createChannel();
    await channel.assertQueue(route.queue, { durable: true });
    await channel.prefetch(settings.prefetch);
    await channel.consume(
      route.queue,
      (msg) => {
        if (!msg) return;
        void listener(decodePayload(msg.content));
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

    // Client: a plain channel that consumes direct reply-to and publishes the requests
    // (both must be the same channel); a call completes with its reply or its timeout.
    const client = await connection.createChannel();
    const pending = new Map<string, { resolve: (p: BenchPayload) => void; timer: NodeJS.Timeout }>();
    await client.consume(
      DIRECT_REPLY_TO,
      (msg) => {
        if (!msg) return;
        const correlationId = msg.properties.correlationId as string;
        const waiter = pending.get(correlationId);
        if (!waiter) return;
        pending.delete(correlationId);
        clearTimeout(waiter.timer);
        waiter.resolve(decodePayload(msg.content));
      },
      { noAck: true },
    );
    let nextCorrelation = 0;

    const call = (payload: BenchPayload): Promise<BenchPayload> =>
      new Promise<BenchPayload>((resolve, reject) => {
        const correlationId = String(++nextCorrelation);
        const timer = setTimeout(() => {
          pending.delete(correlationId);
          reject(new Error(`RPC timed out after ${settings.rpcTimeoutMs} ms`));
        }, settings.rpcTimeoutMs);
        pending.set(correlationId, { resolve, timer });
        client.publish(route.exchange, route.routingKey, encodePayload(payload), {
          contentType: 'application/json',
          replyTo: DIRECT_REPLY_TO,
          correlationId,
        });
      });

    return {
      settings: this.declared('rpc', settings, [
        "requests and replies (direct reply-to) neither confirmed nor persistent; a lost request is the caller's timeout",
      ]),
      call,
      close: async () => {
        await client.close();
        await server.close();
        await connection.close();
      },
    };
  }
}
