import { WarrenError } from './warren.error';

/** A `mandatory` publish matched no queue; the broker returned it. */
export class UnroutableMessageError extends WarrenError {
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    readonly replyText: string,
  ) {
    super(
      'UNROUTABLE',
      `No queue is bound to exchange '${exchange}' for routing key '${routingKey}' (${replyText}); the message was returned, not delivered. ` +
        `Bind a queue (start the consumer first), fix the routing key, or publish with { mandatory: false } to accept the loss.`,
    );
  }
}
