import type { Channel, ConsumeMessage } from 'amqplib';
import { BatchCollector } from './batch-collector';

const channelA = {} as Channel;
const channelB = {} as Channel;
const message = (tag: number): ConsumeMessage => ({ fields: { deliveryTag: tag } }) as ConsumeMessage;
const tags = (batch: ConsumeMessage[]): number[] => batch.map((m) => m.fields.deliveryTag);

describe('BatchCollector', () => {
  let handed: Array<{ channel: Channel; tags: number[] }>;
  let collector: BatchCollector;

  beforeEach(() => {
    jest.useFakeTimers();
    handed = [];
    collector = new BatchCollector(3, 100, (channel, messages) => handed.push({ channel, tags: tags(messages) }));
  });

  afterEach(() => jest.useRealTimers());

  it('hands a batch over as soon as it is full', () => {
    for (let tag = 1; tag <= 7; tag++) collector.add(channelA, message(tag));
    expect(handed.map((h) => h.tags)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(collector.waiting).toBe(1);
  });

  it('hands a partial batch over timeoutMs after its first message, not restarted by later ones', () => {
    collector.add(channelA, message(1));
    jest.advanceTimersByTime(60);
    collector.add(channelA, message(2));
    jest.advanceTimersByTime(39);
    expect(handed).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(handed.map((h) => h.tags)).toEqual([[1, 2]]);
  });

  it('keeps one channel per batch: a delivery of another channel hands the pending one over first', () => {
    collector.add(channelA, message(1));
    collector.add(channelB, message(1));
    expect(handed).toEqual([{ channel: channelA, tags: [1] }]);
    collector.flush();
    expect(handed[1]).toEqual({ channel: channelB, tags: [1] });
  });

  it('discards the partial batch of a closed channel (without handing it over), and only that one', () => {
    collector.add(channelA, message(1));
    collector.add(channelA, message(2));
    expect(collector.discard(channelB)).toBe(0);
    expect(collector.discard(channelA)).toBe(2);
    jest.advanceTimersByTime(1000);
    expect(handed).toEqual([]);
    expect(collector.waiting).toBe(0);
  });

  it('flush() hands over what waits, and does nothing when nothing does', () => {
    collector.flush();
    collector.add(channelA, message(1));
    collector.flush();
    jest.advanceTimersByTime(1000);
    expect(handed.map((h) => h.tags)).toEqual([[1]]);
  });
});
