import { MessageDeserializationError } from './message-deserialization.error';
import { MessageTooLargeError } from './message-too-large.error';
import { NoHandlerError } from './no-handler.error';
import { NonRetryableError } from './non-retryable.error';
import { InvalidBatchResultError } from './invalid-batch-result.error';
import { isPermanent } from './permanent-failure';

describe('isPermanent', () => {
  it.each([
    ['a NonRetryableError', new NonRetryableError('invalid'), 'non-retryable'],
    ['a subclass of NonRetryableError', new (class OrderRejected extends NonRetryableError {})('no customer'), 'non-retryable'],
    ['an error named NonRetryableError', Object.assign(new Error('x'), { name: 'NonRetryableError' }), 'non-retryable'],
    ['a plain object with the NON_RETRYABLE code', { code: 'NON_RETRYABLE' }, 'non-retryable'],
    ['a MessageDeserializationError', new MessageDeserializationError('q', 'application/json', new SyntaxError('x')), 'deserialization'],
    ['a NoHandlerError', new NoHandlerError('q', 'k'), 'no-handler'],
    ['a MessageTooLargeError', new MessageTooLargeError(2, 1, 'received'), 'too-large'],
    ['a BadRequestException', Object.assign(new Error('bad'), { name: 'BadRequestException' }), 'invalid-input'],
    ['an InvalidBatchResultError', new InvalidBatchResultError('h', 3, 2), 'invalid-batch-result'],
  ] as const)('is true for %s, of its kind only', (_what, error, kind) => {
    expect(isPermanent(error)).toBe(true);
    expect(isPermanent(error, kind)).toBe(true);
    for (const other of ['non-retryable', 'deserialization', 'no-handler', 'too-large', 'invalid-input', 'invalid-batch-result'] as const) {
      if (other !== kind) expect(isPermanent(error, other)).toBe(false);
    }
  });

  it.each([
    ['an Error', new Error('x')],
    ['another code', { code: 'SOMETHING_ELSE' }],
    ['a code that is not a string', { code: 42 }],
    ['a string naming the error', 'NonRetryableError'],
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
  ])('is false for %s', (_what, error) => {
    expect(isPermanent(error)).toBe(false);
  });
});
