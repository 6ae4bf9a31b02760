import type { Channel, ConsumeMessage } from 'amqplib';
import type { ManagedChannel } from '../connection/managed-channel';
import type { TopologyDeclarer } from '../topology/topology-declarer';
import { PartitionGroup } from './partition-group';
import type { QueueConsumer } from './queue-consumer';

/** A group of this instance and, once announced, one other instance that sorts after it ('~' sorts after every host name). */
async function groupWithPeer(): Promise<{ group: PartitionGroup; releases: jest.Mock[]; announce: (id: string) => void }> {
  let deliver: (message: ConsumeMessage | null) => void = () => undefined;
  const channel = {
    publish: () => true,
    consume: (_queue: string, callback: (message: ConsumeMessage | null) => void) => {
      deliver = callback;
      return Promise.resolve({ consumerTag: 'members' });
    },
  } as unknown as Channel;
  const topology = {
    declareExchange: () => Promise.resolve(),
    declareQueue: () => Promise.resolve('members'),
    bindQueue: () => Promise.resolve(),
  } as unknown as TopologyDeclarer;
  const releases = [0, 1, 2, 3].map(() => jest.fn(() => Promise.resolve()));
  const partitions = releases.map((release) => ({ release }) as unknown as QueueConsumer);
  const group = new PartitionGroup('orders', partitions, { channel } as unknown as ManagedChannel, topology, 1_000);
  await group.setup(channel);
  const announce = (id: string): void => deliver({ content: Buffer.from(JSON.stringify({ id, incarnation: 0 })) } as ConsumeMessage);
  return { group, releases, announce };
}

describe('PartitionGroup', () => {
  it('lets go of a partition it is active on but does not own, once a heartbeat; keeps the ones it owns', async () => {
    const { group, releases, announce } = await groupWithPeer();
    announce('~peer');
    expect(group.owned()).toEqual([0, 2]);
    group.handled(1);
    group.handled(1);
    group.handled(0);
    expect(releases.map((release) => release.mock.calls.length)).toEqual([0, 1, 0, 0]);
    group.stop();
  });

  it('keeps every partition while it is alone', async () => {
    const { group, releases } = await groupWithPeer();
    expect(group.owned()).toEqual([0, 1, 2, 3]);
    group.handled(1);
    expect(releases[1]).not.toHaveBeenCalled();
    group.stop();
  });
});
