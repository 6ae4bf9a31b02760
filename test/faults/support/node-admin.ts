import * as amqplib from 'amqplib';

/**
 * A raw amqplib connection to any node (the default broker's BrokerAdmin only knows AMQP_URL),
 * reopened on demand: it outlives the broker restarts and node kills the suite causes.
 */
export class NodeAdmin {
  private connection?: amqplib.ChannelModel;

  private constructor(private readonly urls: string[]) {}

  /** Tries the URLs in turn whenever a connection is needed. */
  static async connect(...urls: string[]): Promise<NodeAdmin> {
    const admin = new NodeAdmin(urls);
    await admin.open();
    return admin;
  }

  private async open(): Promise<amqplib.ChannelModel> {
    if (this.connection) return this.connection;
    let last: unknown;
    for (const url of this.urls) {
      try {
        const connection = await amqplib.connect(url);
        connection.on('error', () => undefined);
        connection.on('close', () => {
          if (this.connection === connection) this.connection = undefined;
        });
        this.connection = connection;
        return connection;
      } catch (error) {
        last = error;
      }
    }
    throw last;
  }

  async raw<R>(fn: (channel: amqplib.Channel) => Promise<R>): Promise<R> {
    const channel = await (await this.open()).createChannel();
    channel.on('error', () => undefined);
    try {
      return await fn(channel);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  async messageCount(queue: string): Promise<number | undefined> {
    return this.raw(async (ch) => (await ch.checkQueue(queue)).messageCount).catch(() => undefined);
  }

  async consumerCount(queue: string): Promise<number | undefined> {
    return this.raw(async (ch) => (await ch.checkQueue(queue)).consumerCount).catch(() => undefined);
  }

  async get(queue: string): Promise<amqplib.GetMessage | false> {
    return this.raw((ch) => ch.get(queue, { noAck: true }));
  }

  async deleteQueue(...queues: string[]): Promise<void> {
    for (const queue of queues) await this.raw((ch) => ch.deleteQueue(queue)).catch(() => undefined);
  }

  async deleteExchange(...exchanges: string[]): Promise<void> {
    for (const exchange of exchanges) await this.raw((ch) => ch.deleteExchange(exchange)).catch(() => undefined);
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close().catch(() => undefined);
  }
}
