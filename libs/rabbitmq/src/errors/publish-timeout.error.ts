import { WarrenError } from './warren.error';

/** The broker did not confirm a publish in time (or no connection was available). */
export class PublishTimeoutError extends WarrenError {
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    readonly timeoutMs: number,
    readonly connected: boolean,
    /** Whether the message was written to the broker at least once: if so it may have arrived. */
    readonly sent = true,
  ) {
    super(
      'PUBLISH_TIMEOUT',
      `Publish to exchange '${exchange}' with routing key '${routingKey}' was not confirmed within ${timeoutMs} ms${PublishTimeoutError.why(connected, sent)}`,
    );
  }

  private static why(connected: boolean, sent: boolean): string {
    if (connected && sent) return '. The broker may be overloaded or blocked (memory or disk alarm); the message may still arrive.';
    if (connected) return '. It was still waiting for a channel to be written to; the message was not sent.';
    if (sent) return ' and the connection to the broker was lost after it was sent; the message may or may not have arrived.';
    return ' because no connection to the broker was available. The message was not sent.';
  }
}
