import { WaitForHandledTimeoutError } from './wait-for-handled-timeout.error';
import { WarrenError } from './warren.error';

describe('WaitForHandledTimeoutError', () => {
  const stats = { handled: 5, failed: 1, retried: 2, deadLettered: 0, duplicates: 0 };

  it('says how far the handler got', () => {
    const error = new WaitForHandledTimeoutError('Greeter.greet', 'default', 6, 200, stats, ['Greeter.greet']);
    expect(error).toBeInstanceOf(WarrenError);
    expect(error).toMatchObject({
      code: 'WAIT_FOR_HANDLED_TIMEOUT',
      name: 'WaitForHandledTimeoutError',
      handler: 'Greeter.greet',
      expected: 6,
      timeoutMs: 200,
      stats,
    });
    expect(error.message).toMatch(/^Greeter.greet handled 5 of 6 messages within 200 ms \(failed 1, retried 2, dead-lettered 0\)\. /);
  });

  it('lists the handlers there are when the name is unknown', () => {
    const error = new WaitForHandledTimeoutError('Nobody.here', 'default', 1, 50, undefined, ['Greeter.greet']);
    expect(error.stats).toBeUndefined();
    expect(error.message).toMatch(/^No handler named Nobody.here on connection 'default' \(known: Greeter.greet\)\. /);
  });
});
