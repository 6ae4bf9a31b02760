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
  dedup: DedupGuard | undefined;
  /** Whether to re-run a failing handler in process (`failures` so far, 1-based) before the failure strategy runs. */
  retryImmediately: ((error: unknown, failures: number) => boolean) | undefined;
  /** Counters, updated in place. */
  stats: HandlerStats;
}
