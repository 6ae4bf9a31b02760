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
 * A confirm channel that keeps its confirm window the way amqplib 0.10 does, including how it
 * fails the window on close: it calls callbacks in order and stops at the first slot already
 * confirmed out of order, so the callbacks after that gap are never called.
 */
class FakeConfirmChannel extends EventEmitter {
  readonly written: string[] = [];
  private readonly window: Confirm[] = [];
  private lwm = 1;
  private closed = false;

  publish(_exchange: string, _routingKey: string, content: Buffer, _options: unknown, confirm: Confirm): boolean {
    this.window.push(confirm);
    if (this.closed) throw new Error('Channel closed');
    this.written.push(content.toString());
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let callback: Confirm | undefined;
    while ((callback = this.window.shift())) callback(new Error('channel closed'));
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

function setUp(connected = true) {
  const status$ = new BehaviorSubject<ConnectionStatus>(connected ? 'connected' : 'connecting');
  const channels: ManagedChannel[] = [];
  const host = {
    status$,
    get isConnected() {
      return status$.value === 'connected';
    },
    createChannel(name: string, options: ManagedChannelOptions) {
      const channel = new ManagedChannel(name, options, new Logger('test'), () => undefined);
      channels.push(channel);
      return channel;
    },
  } as unknown as ConnectionHost;
  const publisher = new Publisher(host, 'default');
  const connection = new FakeConnection();
  return { publisher, connection, status$, managed: channels[0], open: () => channels[0].open(connection as unknown as ChannelModel) };
}

const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const send = (publisher: Publisher, body: string, timeoutMs = 5_000): Promise<void> => publisher.publish('x', 'k', Buffer.from(body), { messageId: body }, timeoutMs);

describe('Publisher', () => {
  it('re-sends every unconfirmed message when its channel closes, also those amqplib never calls back', async () => {
    const { publisher, connection, open, managed } = setUp();
    await open();
    const outcomes: string[] = [];
    const all = ['a', 'b', 'c'].map((body) => send(publisher, body).then(() => outcomes.push(body)));
    const first = connection.channels[0];
    expect(first.written).toEqual(['a', 'b', 'c']);
    first.settle(2); // b confirmed out of order: a gap in the window
    await first.close(); // amqplib calls back 'a' only, stops at the gap, never calls 'c'
    await tick(150); // the managed channel reopens after 100 ms
    const second = connection.channels[1];
    expect(second.written).toEqual(['a', 'c']);
    second.settle(1);
    second.settle(2);
    await Promise.all(all);
    expect(outcomes.sort()).toEqual(['a', 'b', 'c']);
    expect(publisher.pendingCount).toBe(0);
    publisher.close();
    await managed.close();
  });

  it('keeps re-sending a nacked message on fresh channels until it is confirmed', async () => {
    const { publisher, connection, open, managed } = setUp();
    await open();
    const done = send(publisher, 'q');
    connection.channels[0].settle(1, true);
    await tick(250);
    connection.channels[1].settle(1, true); // the fresh channel is poisoned too
    await tick(500);
    expect(connection.channels[2].written).toEqual(['q']);
    connection.channels[2].settle(1);
    await expect(done).resolves.toBeUndefined();
    publisher.close();
    await managed.close();
  });

  it('reports the nack when the publish timeout passes between re-sends', async () => {
    const { publisher, connection, open, managed } = setUp();
    await open();
    const done = send(publisher, 'n', 300);
    connection.channels[0].settle(1, true);
    await tick(150);
    connection.channels[1].settle(1, true);
    await expect(done).rejects.toBeInstanceOf(PublishNackedError);
    await expect(done).rejects.toMatchObject({ nacks: 2 });
    publisher.close();
    await managed.close();
  });

  it('holds messages published while connecting until every channel is set up', async () => {
    const { publisher, connection, open, status$, managed } = setUp(false);
    await open(); // the publisher's channel is ready, the handlers' are not yet
    const done = send(publisher, 'early');
    expect(connection.channels[0].written).toEqual([]);
    status$.next('connected');
    expect(connection.channels[0].written).toEqual(['early']);
    connection.channels[0].settle(1);
    await expect(done).resolves.toBeUndefined();
    publisher.close();
    await managed.close();
  });
});
