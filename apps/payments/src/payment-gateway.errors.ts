/** The issuer refused the card: retrying cannot help. */
export class CardDeclinedError extends Error {
  readonly code = 'CARD_DECLINED';

  constructor(readonly reason: string) {
    super(reason);
    this.name = 'CardDeclinedError';
  }
}

/** The gateway timed out or answered 5xx: worth trying again later. */
export class GatewayUnavailableError extends Error {
  readonly code = 'GATEWAY_UNAVAILABLE';

  constructor(message: string) {
    super(message);
    this.name = 'GatewayUnavailableError';
  }
}
