import type { QueueConsumer } from './queue-consumer';

/** What `cancel()` does beyond stopping the consumer. */
export interface CancelConsumerOptions {
  /** Delete the queue once its handlers in flight have finished (its messages go with it). @default false */
  deleteQueue?: boolean;
}

/**
 * A consumer added at run time (`AmqpConnection.subscribe()`, `rpc()`, `createSubscriber()`, ...). It
 * consumes until cancelled, and is re-subscribed on every reconnect like a decorated handler.
 */
export class ConsumerHandle {
  private cancelling?: Promise<void>;

  constructor(
    private readonly consumer: QueueConsumer,
    private readonly release: (consumer: QueueConsumer, options: CancelConsumerOptions) => Promise<void>,
  ) {}

  /** The handler's name: in logs, handler statistics and `cancelConsumer()`. */
  get name(): string {
    return this.consumer.handlerNames[0];
  }

  /** The queue consumed: the broker's name for a server-named queue once declared. */
  get queue(): string {
    return this.consumer.queue;
  }

  /** The broker's consumer tag while consuming; undefined while disconnected or after cancel. */
  get consumerTag(): string | undefined {
    return this.consumer.tag;
  }

  /** True once `cancel()` was called. */
  get isCancelled(): boolean {
    return this.cancelling !== undefined;
  }

  /**
   * Stops consuming, lets the handlers in flight finish and settle their messages (up to the module's
   * `shutdownTimeout`; a partial batch is handled first), closes the consumer's channel and, with
   * `deleteQueue`, deletes the queue. Calling it again returns the same promise.
   */
  cancel(options: CancelConsumerOptions = {}): Promise<void> {
    return (this.cancelling ??= this.release(this.consumer, options));
  }
}
