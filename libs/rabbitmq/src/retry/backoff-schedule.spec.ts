import { baseDelay, delaySchedule, jitteredDelays, MAX_BROKER_DELAY_MS } from './backoff-schedule';

describe('backoff schedule', () => {
  it('baseDelay follows each backoff type', () => {
    expect(baseDelay({ type: 'fixed', delay: 300 }, 9)).toBe(300);
    expect(baseDelay({ type: 'list', delays: [1, 2, 3] }, 2)).toBe(2);
    expect(baseDelay({ type: 'list', delays: [1, 2, 3] }, 9)).toBe(3);
    expect(baseDelay({ type: 'exponential', initialDelay: 100 }, 4)).toBe(800);
    expect(baseDelay({ type: 'exponential', initialDelay: 100, multiplier: 3, maxDelay: 1000 }, 4)).toBe(1000);
    expect(baseDelay({ type: 'exponential', initialDelay: 100, maxDelay: 1000 }, 5000)).toBe(1000);
  });

  it('jitteredDelays gives one value without jitter and three with it', () => {
    expect(jitteredDelays({ type: 'exponential', initialDelay: 1 }, 1234.4)).toEqual([1234]);
    expect(jitteredDelays({ type: 'fixed', delay: 1 }, 10)).toEqual([10]);
    expect(jitteredDelays({ type: 'exponential', initialDelay: 1, jitter: 0.25 }, 1000)).toEqual([750, 1000, 1250]);
    expect(jitteredDelays({ type: 'exponential', initialDelay: 1, jitter: 0.25, maxDelay: 1100 }, 1000)).toEqual([750, 1000, 1100]);
  });

  it('delaySchedule stops at the first delay the broker cannot hold', () => {
    const schedule = delaySchedule({ type: 'exponential', initialDelay: 2 ** 30 }, 10);
    expect(schedule.levels).toEqual([2 ** 30, 2 ** 31]);
    expect(schedule.tooLong).toEqual({ afterDelivery: 3, delay: 2 ** 32 });
    expect(2 ** 32).toBeGreaterThan(MAX_BROKER_DELAY_MS);
  });

  it('delaySchedule stops after stopAfter levels', () => {
    const schedule = delaySchedule({ type: 'list', delays: [1, 2, 3, 4, 5, 6] }, 6, 2);
    expect(schedule.levels).toEqual([1, 2, 3]);
  });

  it('delaySchedule is empty without retries', () => {
    expect(delaySchedule({ type: 'fixed', delay: 5 }, 0)).toEqual({ levels: [] });
  });
});
