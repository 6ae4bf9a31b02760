import { WarrenError } from './warren.error';

/** The broker closed the channel because of a publish, e.g. the exchange does not exist (404 NOT_FOUND). */
export class PublishFailedError extends WarrenError {
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    readonly replyCode: number | undefined,
    reason: string,
  ) {
    super(
      replyCode === 404 ? 'EXCHANGE_NOT_FOUND' : 'PUBLISH_FAILED',
      replyCode === 404
        ? `Exchange '${exchange}' does not exist (publish with routing key '${routingKey}'). Declare it in the module's 'exchanges' or check its name.`
        : `Publish to exchange '${exchange}' with routing key '${routingKey}' failed: ${reason}`,
    );
  }
}
