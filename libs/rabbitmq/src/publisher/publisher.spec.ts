import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import type { ChannelModel } from 'amqplib';
import { BehaviorSubject } from 'rxjs';
import type { ConnectionHost } from '../connection/connection-host';
import type { ConnectionStatus } from '../connection/connection-status';
import { ManagedChannel, type ManagedChannelOptions } from '../connection/managed-channel';
import { PublishNackedError } from '../errors/publish-nacked.error';
import { Publisher } from './publisher';

type Confirm = ((error: Error | null) => void) | null;

/**
 * A confirm channel that keeps its confirm window the way amqplib 2 does: the message is
 * encoded (and may throw) before its confirm callback is queued, a server close emits
 * 'error' (with the reply code, class and method) and then 'close', and the window is
 * failed from amqplib's own 'close' listener, every callback still due in order.
 */
class FakeConfirmChannel extends EventEmitter {
  readonly written: string[] = [];
  private readonly window: Confirm[] = [];
  private lwm = 1;
  private closed = false;

  constructor() {
    super();
    this.on('close', () => {
      const due = this.window.splice(0);
      for (const callback of due) callback?.(new Error('channel closed'));
    });
  }

  publish(_exchange: string, _routingKey: string, content: Buffer, _options: unknown, confirm: Confirm): boolean {
    if (this.closed) throw new Error('Channel closed');
    if (content.toString() === 'unencodable') throw new TypeError('Unknown type to encode');
    this.written.push(content.toString());
    this.window.push(confirm);
    return true;
  }

  /** Confirms the n-th message written (1-based), acked or nacked. */
  settle(tag: number, nack = false): void {
    const callback = this.window[tag - this.lwm];
    this.window[tag - this.lwm] = null;
    while (this.window.length > 0 && this.window[0] === null) {
      this.window.shift();
      this.lwm++;
    }
    callback?.(nack ? new Error('message nacked') : null);
  }

  /** The broker closes the channel because of a basic.publish (class 60, method 40). */
  refuse(code: number, text: string): void {
    const error = Object.assign(new Error(text), { code, classId: 60, methodId: 40 });
    this.emit('error', error);
    this.closed = true;
    this.emit('close');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }

  async prefetch(): Promise<void> {}
}

class FakeConnection {
  readonly channels: FakeConfirmChannel[] = [];
  async createConfirmChannel(): Promise<FakeConfirmChannel> {
    const channel = new FakeConfirmChannel();
    this.channels.push(channel);
    return channel;
  }
}

function setUp(connected = true, probeIdleMs?: number) {
  const status$ = new BehaviorSubject<ConnectionStatus>(connected ? 'connected' : 'connecting');
  const managed = new Map<string, ManagedChannel>();
  const connection = new FakeConnection();
  let opened = false;
  const host = {
    status$,
    get isConnected() {
      return status$.value === 'connected';
    },
    createChannel(name: string, options: ManagedChannelOptions) {
      const channel = new ManagedChannel(name, options, new Logger('test'), () => undefined);
      managed.set(name, channel);
      if (opened) void channel.open(connection as unknown as ChannelModel);
      return channel;
    },
    async removeChannel(channel: ManagedChannel) {
      for (const [name, m] of managed) if (m === channel) managed.delete(name);
      await channel.close();
    },
  } as unknown as ConnectionHost;
  const publisher = new Publisher(host, 'default', probeIdleMs);
  const current = (name: string): FakeConfirmChannel => managed.get(name)?.channel as unknown as FakeConfirmChannel;
  return {
    publisher,
    connection,
    status$,
    /** The main channel's current amqplib channel. */
    main: () => current('publisher'),
    probe: () => current('publisher-probe'),
    open: async () => {
      opened = true;
      await managed.get('publisher')?.open(connection as unknown as ChannelModel);
    },
    closeAll: async () => {
      publisher.close();
      await Promise.all([...managed.values()].map((m) => m.close()));
    },
  };
}

const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const send = (publisher: Publisher, body: string, timeoutMs = 5_000, exchange = 'x'): Promise<void> =>
  publisher.publish(exchange, 'k', Buffer.from(body), { messageId: body }, timeoutMs);

/** The first publish to an exchange goes alone on the probe channel; once confirmed, the exchange is proven. */
async function prove(t: ReturnType<typeof setUp>, exchange = 'x'): Promise<void> {
  const done = send(t.publisher, `proof-${exchange}`, 5_000, exchange);
  await tick();
  t.probe().settle(t.probe().written.length);
  await done;
}

describe('Publisher', () => {
  it('re-sends every unconfirmed message in write order when its channel closes, around those confirmed out of order', async () => {
    const t = setUp();
    const { publisher } = t;
    await t.open();
    await prove(t);
    const outcomes: string[] = [];
    const all = ['a', 'b', 'c'].map((body) => send(publisher, body).then(() => outcomes.push(body)));
    const first = t.main();
    expect(first.written).toEqual(['a', 'b', 'c']);
    first.settle(2); // b confirmed out of order: a gap in the window
    await first.close(); // 'a' and 'c' fail with the channel
    await tick(150); // the managed channel reopens after 100 ms
    const second = t.main();
    expect(second).not.toBe(first);
    expect(second.written).toEqual(['a', 'c']);
    second.settle(1);
    second.settle(2);
    await Promise.all(all);
    expect(outcomes.sort()).toEqual(['a', 'b', 'c']);
    expect(publisher.pendingCount).toBe(0);
    await t.closeAll();
  });

  it('keeps re-sending a nacked message on fresh channels until it is confirmed', async () => {
    const t = setUp();
    await t.open();
    await prove(t);
    const first = t.main();
    const done = send(t.publisher, 'q');
    first.settle(1, true);
    await tick(250);
    const second = t.main();
    expect(second).not.toBe(first);
    expect(second.written).toEqual(['q']);
    second.settle(1, true); // the fresh channel is poisoned too
    await tick(500);
    expect(t.main()).not.toBe(second);
    expect(t.main().written).toEqual(['q']);
    t.main().settle(1);
    await expect(done).resolves.toBeUndefined();
    await t.closeAll();
  });

  it('reports the nack when the publish timeout passes between re-sends', async () => {
    const t = setUp();
    await t.open();
    await prove(t);
    const done = send(t.publisher, 'n', 300);
    t.main().settle(1, true);
    await tick(150);
    t.main().settle(1, true);
    await expect(done).rejects.toBeInstanceOf(PublishNackedError);
    await expect(done).rejects.toMatchObject({ nacks: 2 });
    await t.closeAll();
  });

  it('holds messages published while connecting until every channel is set up', async () => {
    const t = setUp(false);
    await t.open(); // the publisher's channel is ready, the handlers' are not yet
    const done = send(t.publisher, 'early');
    expect(t.main().written).toEqual([]);
    t.status$.next('connected');
    await tick();
    expect(t.probe().written).toEqual(['early']);
    t.probe().settle(1);
    await expect(done).resolves.toBeUndefined();
    await t.closeAll();
  });

  it('after a nack, re-sends only the nacked message and replaces the channel once the others are confirmed', async () => {
    const t = setUp();
    await t.open();
    await prove(t);
    const first = t.main();
    const all = ['a', 'b', 'c'].map((body) => send(t.publisher, body));
    first.settle(2, true); // b nacked
    const late = send(t.publisher, 'd'); // not written to a channel that nacked
    expect(first.written).toEqual(['a', 'b', 'c']);
    first.settle(1);
    first.settle(3);
    await tick(250);
    const second = t.main();
    expect(second).not.toBe(first);
    expect(second.written.sort()).toEqual(['b', 'd']);
    second.settle(1);
    second.settle(2);
    await Promise.all([...all, late]);
    await t.closeAll();
  });

  it('sends the first publish to an exchange alone on the probe channel; a refusal fails only that one', async () => {
    const t = setUp();
    await t.open();
    await prove(t, 'good');
    const good = ['g1', 'g2'].map((body) => send(t.publisher, body, 5_000, 'good'));
    const bad = send(t.publisher, 'bad', 5_000, 'forbidden');
    const behind = send(t.publisher, 'bad2', 5_000, 'forbidden');
    await tick();
    expect(t.main().written).toEqual(['g1', 'g2']);
    expect(t.probe().written).toEqual(['proof-good', 'bad']);
    t.probe().refuse(403, "ACCESS_REFUSED - access to exchange 'forbidden' in vhost '/' refused for user 'guest'");
    await expect(bad).rejects.toMatchObject({ name: 'PublishFailedError', replyCode: 403, sent: true });
    await expect(behind).rejects.toMatchObject({ name: 'PublishFailedError', replyCode: 403, sent: false });
    t.main().settle(1);
    t.main().settle(2);
    await Promise.all(good);
    await t.closeAll();
  });

  it('closes the probe channel once no new kind of message has come for a while, and opens it again for the next one', async () => {
    const t = setUp(true, 50);
    await t.open();
    await prove(t, 'x');
    expect(t.probe()).toBeDefined();
    await tick(120);
    expect(t.probe()).toBeUndefined();
    // Proven kinds keep flowing on the main channel.
    const good = send(t.publisher, 'g');
    t.main().settle(t.main().written.length);
    await expect(good).resolves.toBeUndefined();
    // A new exchange needs the probe again.
    await prove(t, 'y');
    await t.closeAll();
  });

  it('rejects a message amqplib itself fails to encode, and keeps using the channel', async () => {
    const t = setUp();
    await t.open();
    await prove(t);
    const channel = t.main();
    const bad = send(t.publisher, 'unencodable');
    const good = send(t.publisher, 'fine');
    await expect(bad).rejects.toMatchObject({ name: 'MessageEncodingError', code: 'MESSAGE_ENCODING' });
    expect(t.main()).toBe(channel);
    expect(channel.written).toEqual(['fine']);
    channel.settle(1);
    await expect(good).resolves.toBeUndefined();
    await t.closeAll();
  });

  it('rejects a message amqplib cannot encode before writing anything', async () => {
    const t = setUp();
    await t.open();
    await prove(t);
    const error = await t.publisher.publish('x', 'k', Buffer.from('z'), { headers: { big: BigInt(1) } }, 5_000).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'MessageEncodingError', code: 'MESSAGE_ENCODING', field: 'headers.big', valueType: 'bigint' });
    expect(t.main().written).toEqual([]);
    await t.closeAll();
  });
});
