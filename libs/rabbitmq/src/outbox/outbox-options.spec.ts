import { InvalidOptionsError } from '../errors/invalid-options.error';
import { DEFAULT_OUTBOX_OPTIONS, resolveOutboxOptions } from './outbox-options';

describe('resolveOutboxOptions', () => {
  it('fills in the defaults, merging nested objects field by field', () => {
    const resolved = resolveOutboxOptions({ retryDelay: { max: 5000 }, table: 'app.outbox' });
    expect(resolved).toMatchObject({ ...DEFAULT_OUTBOX_OPTIONS, table: 'app.outbox', retryDelay: { min: 1000, max: 5000 }, publishTimeout: undefined });
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      resolveOutboxOptions({
        table: 'drop table; --',
        batchSize: 0.5,
        pollInterval: 0,
        retention: Number.NaN,
        retryDelay: { min: 10, max: 5 },
        listen: 'yes' as unknown as boolean,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidOptionsError);
    const problems = (error as InvalidOptionsError).problems;
    expect(problems).toHaveLength(6);
    expect(problems.join('\n')).toMatch(/outbox\.table 'drop table; --'/);
    expect(problems.join('\n')).toMatch(/batchSize must be a positive integer/);
    expect(problems.join('\n')).toMatch(/retryDelay\.min \(10\) is more than its max \(5\)/);
  });

  it('keeps a legitimate value that a falsy check would replace', () => {
    expect(resolveOutboxOptions({ listen: false }).listen).toBe(false);
  });
});
