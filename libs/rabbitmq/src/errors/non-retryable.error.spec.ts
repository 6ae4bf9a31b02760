import { NonRetryableError } from './non-retryable.error';
import { WarrenError } from './warren.error';

describe('NonRetryableError', () => {
  it('is a WarrenError with code NON_RETRYABLE and its own name', () => {
    const error = new NonRetryableError('order has no customerId');
    expect(error).toBeInstanceOf(WarrenError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('NON_RETRYABLE');
    expect(NonRetryableError.CODE).toBe('NON_RETRYABLE');
    expect(error.name).toBe('NonRetryableError');
    expect(error.message).toBe('order has no customerId');
    expect(error.cause).toBeUndefined();
  });

  it('keeps the cause', () => {
    const cause = new TypeError('bad input');
    expect(new NonRetryableError('rejected', { cause }).cause).toBe(cause);
  });
});
