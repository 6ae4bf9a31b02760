import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { SampleConfig } from '../../common/src/sample-config';
import type { SampleNames } from '../../common/src/sample-names';
import { REDIS, SAMPLE_CONFIG, SAMPLE_NAMES } from '../../common/src/sample.tokens';
import { CardDeclinedError, GatewayUnavailableError } from './payment-gateway.errors';

/** A charge the gateway made: money moved. */
export interface Charge {
  chargeId: string;
  orderId: string;
  amountCents: number;
  /** The payments instance that asked for it. */
  instance: string;
  at: string;
}

/**
 * Stands in for a card gateway. It is deliberately naive — like many real ones,
 * charging twice charges twice — so the worker has to make sure it never asks
 * twice. The card token says how it behaves:
 *
 * | token                   | behaviour                                             |
 * |-------------------------|-------------------------------------------------------|
 * | tok_ok                  | charged                                               |
 * | tok_flaky, tok_flaky_N  | times out on the first 2 (or N) attempts, then charged |
 * | tok_down                | always times out (retries run out: dead letter)       |
 * | tok_declined            | declined (permanent)                                  |
 * | tok_insufficient_funds  | declined (permanent)                                  |
 * | anything else           | declined: unknown card                                |
 *
 * Attempts are counted in Redis per order, so every worker instance sees the same count.
 */
@Injectable()
export class PaymentGatewaySimulator {
  private readonly prefix: string;
  private readonly chargesKey: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SAMPLE_NAMES) names: SampleNames,
    @Inject(SAMPLE_CONFIG) private readonly config: SampleConfig,
  ) {
    this.prefix = `${names.redisPrefix}gateway:`;
    this.chargesKey = names.keys.charges;
  }

  async charge(orderId: string, amountCents: number, cardToken: string): Promise<Charge> {
    const attempt = await this.redis.incr(`${this.prefix}attempts:${orderId}`);
    await sleep(2 + Math.random() * 8);
    const flaky = /^tok_flaky(?:_(\d+))?$/.exec(cardToken);
    if (flaky) {
      const failures = flaky[1] === undefined ? 2 : Number(flaky[1]);
      if (attempt <= failures) throw new GatewayUnavailableError(`gateway timeout (call ${attempt} for this order)`);
    } else if (cardToken === 'tok_down') {
      throw new GatewayUnavailableError(`gateway unavailable (call ${attempt} for this order)`);
    } else if (cardToken === 'tok_declined') {
      throw new CardDeclinedError('card declined by the issuer');
    } else if (cardToken === 'tok_insufficient_funds') {
      throw new CardDeclinedError('insufficient funds');
    } else if (cardToken !== 'tok_ok') {
      throw new CardDeclinedError(`unknown card token '${cardToken}'`);
    }
    const charge: Charge = {
      chargeId: `ch_${randomUUID().slice(0, 13)}`,
      orderId,
      amountCents,
      instance: this.config.instanceId,
      at: new Date().toISOString(),
    };
    await this.redis.multi().rpush(this.chargesKey, JSON.stringify(charge)).hset(`${this.prefix}charge-by-order`, orderId, JSON.stringify(charge)).exec();
    return charge;
  }

  /**
   * Looks a charge up by order (real gateways let you search by your own reference).
   * The worker asks before charging, so a retry after "charged, but crashed before
   * recording it" does not charge again.
   */
  async findCharge(orderId: string): Promise<Charge | undefined> {
    const raw = await this.redis.hget(`${this.prefix}charge-by-order`, orderId);
    return raw === null ? undefined : (JSON.parse(raw) as Charge);
  }

  /** Every charge made, oldest first. */
  async charges(): Promise<Charge[]> {
    return (await this.redis.lrange(this.chargesKey, 0, -1)).map((raw) => JSON.parse(raw) as Charge);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
