import type { INestApplicationContext } from '@nestjs/common';
import { AmqpConnection, MessageEncodingError, RabbitMQModule } from '@warren/rabbitmq';
import type { ChannelModel, GetMessage, Options } from 'amqplib';
import { dirname, join } from 'node:path';
import { CapturingLogger, createApp } from './support/app';
import { AMQP_URL, BrokerAdmin, closeConnectionsNamed, uniqueName, waitFor } from './support/broker';

const exchange = uniqueName('frames.x');
const queue = uniqueName('frames.q');
const rawQueue = uniqueName('frames.raw');
const connectionName = uniqueName('frames.conn');

// amqplib's Connection class, reached by file path (its package exports only the public API).
const { Connection } = require(join(dirname(require.resolve('amqplib')), 'lib', 'connection.js')) as {
  Connection: { prototype: { sendMessage: (...args: unknown[]) => boolean } };
};

function innerOf(connection: ChannelModel | undefined): unknown {
  return (connection as unknown as { connection: unknown }).connection;
}

/** Drains a queue in order. */
async function drain(admin: BrokerAdmin, name: string): Promise<GetMessage[]> {
  return admin.raw(async (ch) => {
    const messages: GetMessage[] = [];
    for (;;) {
      const message = await ch.get(name, { noAck: true });
      if (!message) return messages;
      messages.push(message);
    }
  });
}

describe('Warren encodes its publishes itself, and they arrive as amqplib would have sent them', () => {
  let admin: BrokerAdmin;
  let app: INestApplicationContext;
  let amqp: AmqpConnection;
  // Calls of amqplib's own message encoder, per amqplib Connection. Installed before Warren
  // connects, so Warren's connection hands to this counter whatever it leaves to amqplib.
  const amqplibEncodes = new Map<unknown, number>();
  const sendMessage = Connection.prototype.sendMessage;

  beforeAll(async () => {
    Connection.prototype.sendMessage = function (this: unknown, ...args: unknown[]) {
      amqplibEncodes.set(this, (amqplibEncodes.get(this) ?? 0) + 1);
      return sendMessage.apply(this, args);
    };
    admin = await BrokerAdmin.connect();
    admin.track('queue', queue, rawQueue);
    admin.track('exchange', exchange);
    app = await createApp(
      {
        imports: [
          RabbitMQModule.forRoot({
            uri: AMQP_URL,
            connectionName,
            exchanges: [{ name: exchange, type: 'topic' }],
            queues: [
              { name: queue, bindings: [{ exchange, routingKey: 'warren.#' }] },
              { name: rawQueue, bindings: [{ exchange, routingKey: 'raw.#' }] },
            ],
            connectionInitOptions: { wait: true },
          }),
        ],
      },
      new CapturingLogger(),
    );
    amqp = app.get(AmqpConnection);
  });

  afterAll(async () => {
    Connection.prototype.sendMessage = sendMessage;
    await app?.close();
    await admin?.close();
  });

  beforeEach(async () => {
    await admin.raw(async (ch) => {
      await ch.purgeQueue(queue);
      await ch.purgeQueue(rawQueue);
    });
  });

  const warrenEncodes = (): number => amqplibEncodes.get(innerOf(amqp.connection)) ?? 0;

  it('sends 300 publishes without amqplib encoding any of them, every one confirmed and in the queue', async () => {
    const before = warrenEncodes();
    await Promise.all(Array.from({ length: 300 }, (_, i) => amqp.publish(exchange, 'warren.small', { i })));
    expect(warrenEncodes() - before).toBe(0);
    const got = await drain(admin, queue);
    expect(got.map((m) => (JSON.parse(m.content.toString()) as { i: number }).i)).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  it('delivers every property and header exactly as amqplib would have sent them', async () => {
    const variants: Array<{ routingKey: string; body: unknown; options: Options.Publish }> = [
      { routingKey: 'plain', body: { a: 1 }, options: {} },
      { routingKey: 'ünïcödé.日本', body: { text: 'é€😀' }, options: { messageId: 'id-é€😀', type: 'order.créé', correlationId: 'c-1' } },
      {
        routingKey: 'headers',
        body: [1, 2, 3],
        options: { headers: { tenant: 'acme', flag: true, off: false, small: -5, mid: 3000, big: -2_000_000_000, none: null, 'clé-é': 'valeur €' } },
      },
      {
        routingKey: 'all',
        body: 'x',
        options: {
          priority: 7,
          expiration: 60000,
          replyTo: 'somewhere',
          contentEncoding: 'identity',
          userId: 'guest',
          appId: 'frames-test',
          timestamp: 1_764_900_000_000,
        },
      },
      { routingKey: 'string-expiry', body: null, options: { expiration: '1234', persistent: false, correlationId: '' } },
      { routingKey: 'empty', body: '', options: { headers: {} } },
    ];
    const before = warrenEncodes();
    for (const [n, variant] of variants.entries()) {
      const messageId = variant.options.messageId ?? `frames-${n}`;
      const timestamp = variant.options.timestamp ?? 1_764_900_000_000 + n;
      const content = Buffer.from(JSON.stringify(variant.body));
      await amqp.publish(exchange, `warren.${variant.routingKey}`, variant.body, { ...variant.options, messageId, timestamp });
      // The same message by plain amqplib: the properties Warren adds, then the variant's.
      await admin.publishRaw(exchange, `raw.${variant.routingKey}`, content, {
        persistent: true,
        contentType: 'application/json',
        ...variant.options,
        messageId,
        timestamp,
      });
    }
    // Every variant was Warren's to encode (none reached amqplib's encoder).
    expect(warrenEncodes() - before).toBe(0);
    const ours = await drain(admin, queue);
    const theirs = await waitFor(async () => {
      const count = await admin.messageCount(rawQueue);
      return count === variants.length && drain(admin, rawQueue);
    }, 'the plain amqplib copies');
    expect(ours).toHaveLength(variants.length);
    for (const [n, message] of ours.entries()) {
      expect(message.fields.routingKey).toBe(`warren.${variants[n].routingKey}`);
      expect(message.properties).toEqual(theirs[n].properties);
      expect(message.content.equals(theirs[n].content)).toBe(true);
    }
    // Spot checks that the comparison is not between two empty sets of properties.
    expect(ours[2].properties.headers).toEqual({
      tenant: 'acme',
      flag: true,
      off: false,
      small: -5,
      mid: 3000,
      big: -2_000_000_000,
      none: null,
      'clé-é': 'valeur €',
    });
    expect(ours[3].properties).toMatchObject({ priority: 7, expiration: '60000', userId: 'guest', appId: 'frames-test', timestamp: 1_764_900_000_000 });
    expect(ours[1].properties.messageId).toBe('id-é€😀');
  });

  it('keeps the order of one turn that mixes its own encoding, amqplib’s (nested headers, a body over one frame) and a bad publish, and loses none', async () => {
    const big = 'y'.repeat(200 * 1024); // over the 128 KiB frame: several body frames, amqplib's to send
    const before = warrenEncodes();
    const outcomes = await Promise.all(
      Array.from({ length: 120 }, (_, i) => {
        const options =
          i % 10 === 3 ? { headers: { meta: { nested: i } } } : i % 10 === 5 ? { headers: { list: [i, i] } } : i % 30 === 7 ? { priority: 300 } : undefined;
        const body = i % 40 === 9 ? { i, big } : { i };
        return amqp.publish(exchange, 'warren.mixed', body, options).then(
          () => undefined,
          (error: unknown) => error,
        );
      }),
    );
    const bad = Array.from({ length: 120 }, (_, i) => i).filter((i) => i % 30 === 7);
    for (const [i, outcome] of outcomes.entries()) {
      if (bad.includes(i)) {
        expect(outcome).toBeInstanceOf(MessageEncodingError);
        expect((outcome as MessageEncodingError).field).toBe('priority');
      } else expect(outcome).toBeUndefined();
    }
    // amqplib encoded the nested tables, the arrays and the large bodies: 12 + 12 + 3.
    expect(warrenEncodes() - before).toBe(27);
    const got = await drain(admin, queue);
    const expected = Array.from({ length: 120 }, (_, i) => i).filter((i) => !bad.includes(i));
    expect(got.map((m) => (JSON.parse(m.content.toString()) as { i: number }).i)).toEqual(expected);
    for (const message of got) {
      const { i, big: text } = JSON.parse(message.content.toString()) as { i: number; big?: string };
      if (i % 40 === 9) expect(text).toBe(big);
      if (i % 10 === 3) expect(message.properties.headers).toEqual({ meta: { nested: i } });
    }
  });

  it('encodes the publishes of a channel opened by hand on amqp.connection too', async () => {
    const channel = await amqp.connection!.createConfirmChannel();
    const before = warrenEncodes();
    try {
      for (let i = 0; i < 200; i++) channel.publish(exchange, 'warren.hand', Buffer.from(JSON.stringify({ i })), { persistent: true });
      await channel.waitForConfirms();
    } finally {
      await channel.close();
    }
    expect(warrenEncodes() - before).toBe(0);
    expect(await admin.messageCount(queue)).toBe(200);
  });

  it('encodes on the new connection after the broker closes the old one', async () => {
    const old = amqp.connection;
    expect(await closeConnectionsNamed(connectionName)).toBeGreaterThan(0);
    await waitFor(() => amqp.connection !== undefined && amqp.connection !== old && amqp.isConnected, 'the reconnect', 20_000);
    await Promise.all(Array.from({ length: 200 }, (_, i) => amqp.publish(exchange, 'warren.after', { i })));
    expect(warrenEncodes()).toBe(0);
    const got = await drain(admin, queue);
    expect(got.map((m) => (JSON.parse(m.content.toString()) as { i: number }).i)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });
});
