import { isQuorum, toAssertQueueOptions } from './queue-arguments';

describe('toAssertQueueOptions', () => {
  it('maps every typed option to its x- argument', () => {
    const result = toAssertQueueOptions({
      messageTtl: 1000,
      expires: 60000,
      maxLength: 10,
      maxLengthBytes: 2048,
      overflow: 'reject-publish',
      deadLetterExchange: 'dlx',
      deadLetterRoutingKey: 'dead',
      maxPriority: 5,
      singleActiveConsumer: true,
    });
    expect(result.arguments).toEqual({
      'x-message-ttl': 1000,
      'x-expires': 60000,
      'x-max-length': 10,
      'x-max-length-bytes': 2048,
      'x-overflow': 'reject-publish',
      'x-dead-letter-exchange': 'dlx',
      'x-dead-letter-routing-key': 'dead',
      'x-max-priority': 5,
      'x-single-active-consumer': true,
    });
    expect(result).toMatchObject({ durable: true, exclusive: false, autoDelete: false });
  });

  it('keeps a legitimate 0 and lets raw arguments win', () => {
    const result = toAssertQueueOptions({ messageTtl: 0, arguments: { 'x-message-ttl': 5, 'x-custom': 'a' } });
    expect(result.arguments).toEqual({ 'x-message-ttl': 5, 'x-custom': 'a' });
    expect(toAssertQueueOptions({ maxLength: 0 }).arguments).toEqual({ 'x-max-length': 0 });
  });

  it('makes server-named queues exclusive and auto-deleted', () => {
    expect(toAssertQueueOptions({}, false)).toMatchObject({ durable: false, exclusive: true, autoDelete: true });
  });

  it('forces quorum queues durable and shared', () => {
    const result = toAssertQueueOptions({ type: 'quorum', deliveryLimit: 3, durable: false, exclusive: true });
    expect(result).toMatchObject({ durable: true, exclusive: false, autoDelete: false });
    expect(result.arguments).toEqual({ 'x-queue-type': 'quorum', 'x-delivery-limit': 3 });
  });

  it('maps consumerTimeout to x-consumer-timeout', () => {
    expect(toAssertQueueOptions({ consumerTimeout: 5000 }).arguments).toEqual({ 'x-consumer-timeout': 5000 });
  });

  it('gives a quorum queue no x-max-priority (every version refuses it there) and keeps it for a classic one', () => {
    expect(toAssertQueueOptions({ type: 'quorum', maxPriority: 10 }).arguments).toEqual({ 'x-queue-type': 'quorum' });
    expect(toAssertQueueOptions({ maxPriority: 10, arguments: { 'x-queue-type': 'quorum' } }).arguments).toEqual({ 'x-queue-type': 'quorum' });
    expect(toAssertQueueOptions({ type: 'classic', maxPriority: 10 }).arguments).toEqual({ 'x-queue-type': 'classic', 'x-max-priority': 10 });
    // A raw argument is passed as given (the broker answers for it).
    expect(toAssertQueueOptions({ type: 'quorum', arguments: { 'x-max-priority': 3 } }).arguments).toEqual({ 'x-queue-type': 'quorum', 'x-max-priority': 3 });
  });

  it('tells a quorum queue by its typed type or its raw x-queue-type (which wins)', () => {
    expect(isQuorum({ type: 'quorum' })).toBe(true);
    expect(isQuorum({ arguments: { 'x-queue-type': 'quorum' } })).toBe(true);
    expect(isQuorum({ type: 'quorum', arguments: { 'x-queue-type': 'classic' } })).toBe(false);
    expect(isQuorum({})).toBe(false);
  });
});
