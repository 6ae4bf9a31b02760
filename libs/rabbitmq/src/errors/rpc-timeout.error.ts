import { WarrenError } from './warren.error';

/** No reply arrived within the request's timeout. */
export class RpcTimeoutError extends WarrenError {
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    readonly timeoutMs: number,
  ) {
    super(
      'RPC_TIMEOUT',
      `No reply to the request sent to exchange '${exchange}' with routing key '${routingKey}' within ${timeoutMs} ms. ` +
        `Is a server consuming it? Raise the timeout if the handler is slow.`,
    );
  }

  /** golevelup's name for `timeoutMs`. */
  get timeout(): number {
    return this.timeoutMs;
  }
}
