import type { ErrorBehavior } from '../options/rabbitmq-options.interface';
import type { Serializer } from '../message/serializer';
import type { FailureStrategy } from './failure-strategy';
import type { HandlerDescriptor } from './handler-descriptor';
import type { DedupGuard } from './dedup-guard';
import type { HandlerStats } from './handler-stats';

/** A handler with everything resolved that the dispatcher needs per message. */
export interface HandlerRoute {
  descriptor: HandlerDescriptor;
  /** Whether this handler takes a message with this routing key (several handlers can share a queue). */
  matches: (routingKey: string) => boolean;
  errorBehavior: ErrorBehavior;
  serializer: Serializer;
  allowNonJson: boolean;
  failure: FailureStrategy;
  /** An RPC handler's explicit `errorHandler`: settles a failed request after the error is sent to the caller. */
  rpcFailure?: FailureStrategy;
  /** RPC replies sent persistent (`usePersistentReplyTo`). */
  persistentReplies?: boolean;
  dedup: DedupGuard | undefined;
  /**
   * Whether to re-run a failing handler in process (`failures` so far, 1-based) before the failure
   * strategy runs: the ms to wait first (0 for at once; a partition's in-place retry waits its backoff),
   * or false to stop. The dispatcher does the waiting, and cuts it short when the delivery is no longer wanted.
   */
  retryImmediately: ((error: unknown, failures: number) => number | false) | undefined;
  /** Counters, updated in place. */
  stats: HandlerStats;
}
