import { WarrenError } from './warren.error';

/**
 * The broker refused a publish and closed the channel it came on: the exchange does
 * not exist (404 NOT_FOUND), the user may not write to it or it is internal (403
 * ACCESS_REFUSED), or a property breaks a broker rule such as `userId` not being the
 * connection's user (406 PRECONDITION_FAILED). Only this message fails: others in
 * flight are unaffected.
 */
export class PublishFailedError extends WarrenError {
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    /** The broker's AMQP reply code (404, 403, 406, ...). */
    readonly replyCode: number | undefined,
    /** The broker's reply text. */
    readonly replyText: string,
    /** Whether this message itself was sent (false: it waited behind one to the same exchange that was refused). */
    readonly sent = true,
  ) {
    super(replyCode === 404 ? 'EXCHANGE_NOT_FOUND' : 'PUBLISH_FAILED', PublishFailedError.describe(exchange, routingKey, replyCode, replyText, sent));
  }

  private static describe(exchange: string, routingKey: string, code: number | undefined, text: string, sent: boolean): string {
    const what = `Publish to exchange '${exchange}' with routing key '${routingKey}'`;
    const how = sent ? '' : ' (not sent: an earlier publish to the same exchange was refused this way)';
    switch (code) {
      case 404:
        return `Exchange '${exchange}' does not exist (publish with routing key '${routingKey}')${how}. Declare it in the module's 'exchanges' or check its name.`;
      case 403:
        return `${what} was refused: ${text}${how}. Give the user write permission on the exchange (rabbitmqctl set_permissions), or publish to an exchange that is not internal.`;
      case 406:
        return `${what} was refused: ${text}${how}. A property breaks a broker rule (e.g. userId must be the connection's user); fix it and publish again.`;
      default:
        return `${what} failed (${code ?? 'no code'}): ${text}${how}.`;
    }
  }
}
