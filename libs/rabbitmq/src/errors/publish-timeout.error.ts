import { WarrenError } from './warren.error';

/** The broker did not confirm a publish in time (or no connection was available). */
export class PublishTimeoutError extends WarrenError {
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    readonly timeoutMs: number,
    readonly connected: boolean,
  ) {
    super(
      'PUBLISH_TIMEOUT',
      `Publish to exchange '${exchange}' with routing key '${routingKey}' was not confirmed within ${timeoutMs} ms` +
        (connected
          ? '. The broker may be overloaded or blocked (memory or disk alarm); the message may still arrive.'
          : ' because no connection to the broker was available. The message was not sent.'),
    );
  }
}
