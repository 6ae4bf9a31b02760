import { WarrenError } from './warren.error';

/** A handler's counters, as `waitForHandled` last saw them. */
export interface HandledCounts {
  readonly handled: number;
  readonly failed: number;
  readonly retried: number;
  readonly deadLettered: number;
  readonly duplicates: number;
}

/** `waitForHandled` (from `@warren/rabbitmq/testing`) gave up: the handler did not complete enough messages in time, or has not run at all. */
export class WaitForHandledTimeoutError extends WarrenError {
  constructor(
    /** The handler waited for. */
    readonly handler: string,
    /** Its connection. */
    readonly connection: string,
    /** How many completed messages were waited for. */
    readonly expected: number,
    readonly timeoutMs: number,
    /** Its counters at the deadline; undefined when the connection has no handler of that name. */
    readonly stats: HandledCounts | undefined,
    /** The handler names the connection has. */
    readonly known: readonly string[],
  ) {
    super(
      'WAIT_FOR_HANDLED_TIMEOUT',
      stats
        ? `${handler} handled ${stats.handled} of ${expected} messages within ${timeoutMs} ms (failed ${stats.failed}, retried ${stats.retried}, dead-lettered ${stats.deadLettered}). ` +
            'Check the failures in the log, or raise the timeout if the handler is slow.'
        : `No handler named ${handler} on connection '${connection}' (known: ${known.join(', ') || 'none'}). ` +
            `Check the name ('ClassName.methodName' unless the decorator names it) and that its module is imported.`,
    );
  }
}
