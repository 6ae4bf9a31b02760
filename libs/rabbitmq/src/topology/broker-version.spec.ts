import type { Channel } from 'amqplib';
import { brokerVersionOf, parseBrokerVersion, unsupportedQueueFeatures } from './broker-version';

describe('broker version', () => {
  it('reads major.minor from the version the broker announces', () => {
    expect(parseBrokerVersion('4.0.5')).toEqual({ major: 4, minor: 0 });
    expect(parseBrokerVersion('3.10.8')).toEqual({ major: 3, minor: 10 });
    expect(parseBrokerVersion('junk')).toBeUndefined();
    expect(parseBrokerVersion(undefined)).toBeUndefined();
    expect(brokerVersionOf({ connection: { serverProperties: { version: '3.12.1' } } } as unknown as Channel)).toEqual({ major: 3, minor: 12 });
    expect(brokerVersionOf({} as unknown as Channel)).toBeUndefined();
  });

  it('says when a per-queue consumer timeout is ignored (before 3.12)', () => {
    const options = { consumerTimeout: 1000 };
    expect(unsupportedQueueFeatures('q', options, { major: 3, minor: 10 })).toEqual([expect.stringContaining('consumerTimeout needs RabbitMQ 3.12')]);
    expect(unsupportedQueueFeatures('q', options, { major: 3, minor: 12 })).toEqual([]);
    expect(unsupportedQueueFeatures('q', options, { major: 4, minor: 0 })).toEqual([]);
    expect(unsupportedQueueFeatures('q', options, undefined)).toEqual([]);
  });

  it('says when a quorum queue has no priorities (before 4.0), and never for a classic one', () => {
    expect(unsupportedQueueFeatures('q', { type: 'quorum', maxPriority: 10 }, { major: 3, minor: 13 })).toEqual([
      expect.stringContaining('maxPriority is ignored and messages are delivered in order'),
    ]);
    expect(unsupportedQueueFeatures('q', { type: 'quorum', maxPriority: 10 }, { major: 4, minor: 0 })).toEqual([]);
    expect(unsupportedQueueFeatures('q', { maxPriority: 10 }, { major: 3, minor: 10 })).toEqual([]);
  });
});
