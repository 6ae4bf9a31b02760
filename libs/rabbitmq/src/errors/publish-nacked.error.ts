import { WarrenError } from './warren.error';

/**
 * The broker refused a message (basic.nack), e.g. a full queue with `overflow: 'reject-publish'`.
 * Nacked messages are re-sent on a fresh channel with a backoff until the publish timeout;
 * this error reports the nack when the timeout passes.
 */
export class PublishNackedError extends WarrenError {
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    /** Times the broker nacked the message. */
    readonly nacks = 1,
  ) {
    super(
      'PUBLISH_NACKED',
      `The broker rejected the message published to exchange '${exchange}' with routing key '${routingKey}' ` +
        `(basic.nack, ${nacks} time(s) before the publish timeout). A queue may be full with overflow 'reject-publish', ` +
        `or a quorum queue has no leader; retry later.`,
    );
  }
}
