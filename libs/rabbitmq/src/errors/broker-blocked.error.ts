import { WarrenError } from './warren.error';

/**
 * The broker blocked publishing on the connection (a memory or disk alarm:
 * RabbitMQ's `connection.blocked`) and the publish timed out waiting for it to
 * clear. `sent` says whether the message was written to the socket: if not,
 * the broker never saw it and a retry makes no duplicate; if so, the broker
 * reads it once the alarm clears, so it may still be enqueued.
 */
export class BrokerBlockedError extends WarrenError {
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    readonly timeoutMs: number,
    /** The broker's reason, e.g. 'low on memory' or 'low on disk'. */
    readonly reason: string,
    /** Whether the message was written to the socket before the timeout (then it may still arrive). */
    readonly sent: boolean,
  ) {
    super(
      'BROKER_BLOCKED',
      `Publish to exchange '${exchange}' with routing key '${routingKey}' gave up after ${timeoutMs} ms: ` +
        `the broker is blocking publishers (${reason}). ` +
        (sent
          ? 'The message had been written before the block and may still be enqueued when the alarm clears: ' +
            'retry only if consumers tolerate a duplicate (a stable messageId with dedup makes it safe). '
          : 'The message was not sent, so retrying makes no duplicate. ') +
        `Free memory or disk on the broker (or adjust vm_memory_high_watermark / disk_free_limit) to clear the alarm.`,
    );
  }
}
