import * as amqp from 'amqplib';
import type { Socket } from 'net';
import type { BenchPayload, Route } from '../contender';
import { wireProbe } from './wire-probe';
import { sleep } from './time';

/**
 * The benchmark's own raw amqplib connection: declares and deletes the
 * trial's queues, pre-fills queues, publishes probes and counts messages.
 * It is excluded from the wire probe, so it never counts as the contender's.
 */
export class BrokerHelper {
  private channel!: amqp.ConfirmChannel;
  /** Set when the channel was closed by the broker (a failed passive check): the next call reopens it. */
  private channelClosed = false;

  private constructor(
    private readonly connection: amqp.ChannelModel,
    private readonly connectionName: string,
  ) {}

  static async connect(url: string, connectionName: string): Promise<BrokerHelper> {
    const connection = await amqp.connect(url, { noDelay: true, clientProperties: { connection_name: connectionName } });
    wireProbe.ignoreSocket(socketOf(connection));
    // A failed passive check closes the channel; the connection must survive it.
    connection.on('error', () => undefined);
    const helper = new BrokerHelper(connection, connectionName);
    await helper.openChannel();
    return helper;
  }

  /** The helper's local TCP port, so the reconnect scenario does not close it. */
  get localPort(): number | undefined {
    return socketOf(this.connection)?.localPort;
  }

  private async openChannel(): Promise<void> {
    const channel = await this.connection.createConfirmChannel();
    wireProbe.ignoreChannel(channel);
    channel.on('error', () => undefined);
    channel.on('close', () => {
      if (this.channel === channel) this.channelClosed = true;
    });
    this.channel = channel;
    this.channelClosed = false;
  }

  private async ch(): Promise<amqp.ConfirmChannel> {
    if (this.channelClosed) await this.openChannel();
    return this.channel;
  }

  /** A durable direct exchange, a durable queue and the binding between them. */
  async declareRoute(route: Route, queueArguments?: Record<string, unknown>): Promise<void> {
    const ch = await this.ch();
    await ch.assertExchange(route.exchange, 'direct', { durable: true, autoDelete: false });
    await ch.assertQueue(route.queue, { durable: true, autoDelete: false, exclusive: false, arguments: queueArguments });
    await ch.bindQueue(route.queue, route.exchange, route.routingKey);
  }

  /**
   * Publishes `count` persistent messages straight to `queue` with confirms
   * (up to 500 unconfirmed), each with a unique `messageId`.
   */
  async prefill(queue: string, count: number, makeMessage: (i: number) => { content: Buffer; payload: BenchPayload }, deadline: number): Promise<void> {
    const ch = await this.ch();
    const window = 500;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        if (Date.now() > deadline) throw new Error(`pre-filling ${queue} did not finish in time (${next}/${count})`);
        const i = next++;
        const { content, payload } = makeMessage(i);
        await new Promise<void>((resolve, reject) => {
          ch.sendToQueue(
            queue,
            content,
            { persistent: true, contentType: 'application/json', messageId: `${queue}-${payload.id}`, timestamp: Math.floor(payload.sentAt / 1000) },
            (err: Error | null) => (err ? reject(err) : resolve()),
          );
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
  }

  /** Publishes one persistent message to an exchange, waiting for the confirm. */
  async publish(exchange: string, routingKey: string, content: Buffer, messageId: string): Promise<void> {
    const ch = await this.ch();
    await new Promise<void>((resolve, reject) => {
      ch.publish(exchange, routingKey, content, { persistent: true, contentType: 'application/json', messageId }, (err: Error | null) =>
        err ? reject(err) : resolve(),
      );
    });
  }

  /** Ready messages in `queue` (unacked ones are not counted); undefined if the queue does not exist. */
  async messageCount(queue: string): Promise<number | undefined> {
    try {
      const ch = await this.ch();
      const ok = await ch.checkQueue(queue);
      return ok.messageCount;
    } catch {
      return undefined;
    }
  }

  /** Polls until `queue` holds `expected` ready messages or `timeoutMs` passes; returns the last count. */
  async waitForCount(queue: string, expected: number, timeoutMs: number): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    let count = await this.messageCount(queue);
    while (count !== expected && Date.now() < deadline) {
      await sleep(50);
      count = await this.messageCount(queue);
    }
    return count;
  }

  /** Deletes queues and exchanges, ignoring the ones already gone. */
  async deleteAll(queues: readonly string[], exchanges: readonly string[]): Promise<string[]> {
    const failures: string[] = [];
    for (const q of queues) {
      try {
        await (await this.ch()).deleteQueue(q);
      } catch (err) {
        failures.push(`queue ${q}: ${(err as Error).message}`);
      }
    }
    for (const x of exchanges) {
      try {
        await (await this.ch()).deleteExchange(x);
      } catch (err) {
        failures.push(`exchange ${x}: ${(err as Error).message}`);
      }
    }
    return failures;
  }

  async close(): Promise<void> {
    try {
      await this.connection.close();
    } catch {
      // already closed
    }
  }

  toString(): string {
    return `BrokerHelper(${this.connectionName})`;
  }
}

/** amqplib keeps the socket at `connection.stream`; it is not in the typings. */
export function socketOf(model: amqp.ChannelModel): Socket | undefined {
  return (model.connection as unknown as { stream?: Socket }).stream;
}
