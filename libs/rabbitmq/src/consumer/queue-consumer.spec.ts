import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { ManagedChannel } from '../connection/managed-channel';
import { JsonSerializer } from '../message/serializer';
import type { TopologyDeclarer } from '../topology/topology-declarer';
import { DEAD_LETTERED } from './failure-strategy';
import { emptyStats } from './handler-stats';
import type { HandlerRoute } from './handler-route';
import { MessageDispatcher } from './message-dispatcher';
import { QueueConsumer, type QueueConsumerInit } from './queue-consumer';
import { StreamReader } from './stream-reader';

/** What happened, in order: settlements of deliveries (by body) and the close of the consumer's channel. */
type Event = string;

/** An amqplib channel as far as a consumer uses it: consume hands over the delivery callback, settlements are recorded. */
function fakeChannel(events: Event[]) {
  let deliver: ((message: ConsumeMessage | null) => void) | undefined;
  const channel = Object.assign(new EventEmitter(), {
    consume: async (_queue: string, onMessage: (message: ConsumeMessage | null) => void) => {
      deliver = onMessage;
      return { consumerTag: 'tag-1' };
    },
    ack: (message: ConsumeMessage) => void events.push(`ack ${idOf(message)}`),
    nack: (message: ConsumeMessage) => void events.push(`nack ${idOf(message)}`),
    cancel: async () => ({ consumerTag: 'tag-1' }),
  });
  return {
    channel: channel as unknown as Channel,
    deliver: (message: ConsumeMessage) => {
      if (deliver === undefined) throw new Error('not consuming');
      deliver(message);
    },
  };
}

function idOf(message: ConsumeMessage): string {
  return (JSON.parse(message.content.toString()) as { id: string }).id;
}

function delivery(body: string, tag: number): ConsumeMessage {
  return {
    content: Buffer.from(body),
    fields: { routingKey: 'k', exchange: 'x', deliveryTag: tag, redelivered: false, consumerTag: 'tag-1' },
    properties: { contentType: 'application/json', headers: { 'x-stream-offset': tag } },
  } as unknown as ConsumeMessage;
}

/** A handler that finishes at once, or waits for its release when its payload says `hold`. */
function gatedRoute(started: string[]) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const route: HandlerRoute = {
    descriptor: {
      name: 'Orders.handle',
      kind: 'subscribe',
      config: {},
      invoke: async (payload) => {
        const { id, hold } = payload as { id: string; hold?: boolean };
        started.push(id);
        if (hold) await gate;
      },
    },
    matches: () => true,
    errorBehavior: 'dead-letter',
    serializer: new JsonSerializer(),
    allowNonJson: false,
    failure: { onFailure: async () => DEAD_LETTERED },
    dedup: undefined,
    retryImmediately: undefined,
    stats: emptyStats(),
  };
  return { route, release };
}

class ThrowingReader extends StreamReader {
  override handled(): void {
    throw new Error('position store exploded');
  }
}

const hooks: Array<[string, Partial<QueueConsumerInit>]> = [
  [
    'onHandled',
    {
      onHandled: () => {
        throw new Error('partition bookkeeping exploded');
      },
    },
  ],
  ['the stream reader', { reader: new ThrowingReader('reader', {}) }],
];

describe('QueueConsumer (ordered)', () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['error']));

  async function orderedConsumer(extra: Partial<QueueConsumerInit>) {
    const events: Event[] = [];
    const started: string[] = [];
    const { route, release } = gatedRoute(started);
    const { channel, deliver } = fakeChannel(events);
    const managed = {
      get channel() {
        return channel;
      },
      recycle: () => Promise.resolve(),
      close: async () => void events.push('channel closed'),
    } as unknown as ManagedChannel;
    const topology = {
      declareQueue: async (_channel: Channel, name: string | undefined) => name ?? 'amq.gen',
      bindQueue: async () => undefined,
    } as unknown as TopologyDeclarer;
    const consumer = new QueueConsumer(
      {
        queue: 'orders.p0',
        queueOptions: {},
        bindings: [],
        routes: [route],
        consumerOptions: undefined,
        fallbackFailure: route.failure,
        extraSetup: [],
        ordered: true,
        ...extra,
      },
      managed,
      new MessageDispatcher(1_000_000, 'c', undefined),
      topology,
    );
    await consumer.setup(channel);
    return { consumer, deliver, events, started, release };
  }

  it.each(hooks)('counts a delivery out of flight once when %s throws after it was settled', async (_name, extra) => {
    const { consumer, deliver, events } = await orderedConsumer(extra);
    deliver(delivery(JSON.stringify({ id: 'a' }), 1));
    await waitUntil(() => events.includes('ack a'));
    await waitUntil(() => consumer.inFlightCount !== 1);
    expect(consumer.inFlightCount).toBe(0);
  });

  it.each(hooks)('stop() waits for a later delivery still in flight after %s threw', async (_name, extra) => {
    const { consumer, deliver, events, started, release } = await orderedConsumer(extra);
    deliver(delivery(JSON.stringify({ id: 'a' }), 1));
    deliver(delivery(JSON.stringify({ id: 'b', hold: true }), 2));
    await waitUntil(() => started.includes('b'));
    let stopped = false;
    const stopping = consumer.stop(5_000).then((stillRunning) => {
      stopped = true;
      return stillRunning;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    // 'b' is still running: its channel must stay open, or its ack would be lost and it would run twice.
    expect(stopped).toBe(false);
    expect(events).not.toContain('channel closed');
    release();
    await expect(stopping).resolves.toBe(0);
    expect(events).toEqual(['ack a', 'ack b', 'channel closed']);
    expect(consumer.inFlightCount).toBe(0);
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
