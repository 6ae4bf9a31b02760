import { WarrenError } from './warren.error';

/** The broker refused a message (basic.nack), e.g. a full queue with `overflow: 'reject-publish'`. */
export class PublishNackedError extends WarrenError {
  constructor(readonly exchange: string, readonly routingKey: string) {
    super(
      'PUBLISH_NACKED',
      `The broker rejected the message published to exchange '${exchange}' with routing key '${routingKey}' ` +
        `(basic.nack). A queue may be full with overflow 'reject-publish', or a quorum queue has no leader; retry later.`,
    );
  }
}
