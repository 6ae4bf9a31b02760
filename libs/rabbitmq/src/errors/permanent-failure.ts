import { NonRetryableError } from './non-retryable.error';

/** The kinds of failure that redelivering the message can never cure. */
export type PermanentFailure =
  /** A `NonRetryableError`, also one that crossed a boundary and kept only its name or code. */
  | 'non-retryable'
  /** The body could not be deserialized (`MessageDeserializationError`). */
  | 'deserialization'
  /** No handler on the queue takes the routing key (`NoHandlerError`). */
  | 'no-handler'
  /** The body is over `maxMessageSize` (`MessageTooLargeError`). */
  | 'too-large'
  /** A pipe (ValidationPipe, ParseIntPipe, ...) rejected the payload with a BadRequestException: the same payload fails the same way. */
  | 'invalid-input'
  /** A batch handler returned outcomes that do not match its batch (`InvalidBatchResultError`): it already ran for every message. */
  | 'invalid-batch-result';

type Fields = { code?: unknown; name?: unknown };

// Codes and names are literals, not `Class.name`, so a minified build still matches errors from another copy of the library.
const RULES: Readonly<Record<PermanentFailure, (fields: Fields, error: object) => boolean>> = {
  'non-retryable': ({ code, name }, error) => error instanceof NonRetryableError || code === NonRetryableError.CODE || name === 'NonRetryableError',
  deserialization: ({ code }) => code === 'MESSAGE_DESERIALIZATION',
  'no-handler': ({ code }) => code === 'NO_HANDLER',
  'too-large': ({ code }) => code === 'MESSAGE_TOO_LARGE',
  'invalid-input': ({ name }) => name === 'BadRequestException',
  'invalid-batch-result': ({ code }) => code === 'INVALID_BATCH_RESULT',
};

/**
 * Whether redelivering the message can never help: the one rule the consumer's error
 * behaviour, its immediate retries, the delayed retries and `RetryPolicy` all apply.
 * With `kind`, whether the failure is of that kind.
 */
export function isPermanent(error: unknown, kind?: PermanentFailure): boolean {
  if (error === null || typeof error !== 'object') return false;
  const { code, name } = error as Fields;
  const fields = { code, name };
  if (kind !== undefined) return RULES[kind](fields, error);
  return Object.values(RULES).some((rule) => rule(fields, error));
}
