export { RetryPolicy } from './retry-policy';
export type { NoRetryReason } from './retry-policy';
export type {
  BackoffOptions,
  ErrorClass,
  ExponentialBackoffOptions,
  FixedBackoffOptions,
  ListBackoffOptions,
  ResolvedRetryOptions,
  RetryOptions,
} from '../options/retry-options.interface';
export { DEFAULT_RETRY_OPTIONS, resolveRetryOptions } from './resolve-retry-options';
export { validateRetryOptions } from './validate-retry-options';
export { MAX_BROKER_DELAY_MS, MAX_DELAY_LEVELS } from './backoff-schedule';
