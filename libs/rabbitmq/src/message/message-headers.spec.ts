import type { ConsumeMessage, MessageProperties } from 'amqplib';
import { readReason } from './dead-letter-reason';
import { keptProperties } from './kept-properties';
import {
  attemptOf,
  deadLetterHeaders,
  exchangeOf,
  redeliveriesOf,
  redeliveryCount,
  replayHeaders,
  retryHeaders,
  routingKeyOf,
  trimStack,
} from './message-headers';
import { DEAD_LETTER_HEADERS, FIRST_FAILURE_HEADER, LAST_ERROR_HEADER, RETRY_DUE_HEADER, WARREN_HEADERS } from './warren-headers';

function message(headers: Record<string, unknown> = {}): ConsumeMessage {
  return {
    content: Buffer.from('{}'),
    fields: { deliveryTag: 1, redelivered: false, exchange: 'orders', routingKey: 'order.created', consumerTag: 'c' },
    properties: { headers } as unknown as MessageProperties,
  };
}

describe('message headers', () => {
  it('counts redeliveries: the broker’s x-delivery-count only on a redelivery from a counting queue', () => {
    const delivery = (redelivered: boolean, headers: Record<string, unknown> = {}): ConsumeMessage => {
      const m = message(headers);
      return { ...m, fields: { ...m.fields, redelivered } };
    };
    expect(redeliveriesOf(delivery(false), true)).toBe(0);
    // A publisher-set count reaches a first delivery on every version: not the broker's.
    expect(redeliveriesOf(delivery(false, { 'x-delivery-count': 7 }), true)).toBe(0);
    expect(redeliveriesOf(delivery(true, { 'x-delivery-count': 3 }), true)).toBe(3);
    expect(redeliveriesOf(delivery(true, { 'x-delivery-count': 'junk' }), true)).toBe(1);
    expect(redeliveriesOf(delivery(true), true)).toBe(1);
    // A classic queue passes a publisher-set count through on redeliveries too.
    expect(redeliveriesOf(delivery(true, { 'x-delivery-count': 7 }), false)).toBe(1);
    expect(redeliveryCount(delivery(true, { 'x-delivery-count': 7 }))).toBe(1);
    expect(redeliveryCount(delivery(true, { 'x-delivery-count': 7 }), 'quorum')).toBe(7);
  });

  it('reads the attempt, defaulting to 1', () => {
    expect(attemptOf(message())).toBe(1);
    expect(attemptOf(message({ [WARREN_HEADERS.attempt]: 3 }))).toBe(3);
    expect(attemptOf(message({ [WARREN_HEADERS.attempt]: 'junk' }))).toBe(1);
  });

  it('reads the original route only when the headers hold strings', () => {
    expect(routingKeyOf(message())).toBe('order.created');
    expect(exchangeOf(message())).toBe('orders');
    const retried = message({ [WARREN_HEADERS.originalRoutingKey]: 'first.key', [WARREN_HEADERS.originalExchange]: 'first' });
    expect(routingKeyOf(retried)).toBe('first.key');
    expect(exchangeOf(retried)).toBe('first');
    expect(routingKeyOf(message({ [WARREN_HEADERS.originalRoutingKey]: 42 }))).toBe('order.created');
  });

  it('parks a retry with the next attempt and the last error', () => {
    const headers = retryHeaders(message({ [WARREN_HEADERS.attempt]: 2, 'x-death': [{}] }), 'billing', 2, new TypeError('bad'), '2026-01-01T00:00:00.000Z');
    expect(headers).toMatchObject({
      [WARREN_HEADERS.attempt]: 3,
      [LAST_ERROR_HEADER]: 'TypeError: bad',
      [WARREN_HEADERS.originalExchange]: 'orders',
      [WARREN_HEADERS.originalRoutingKey]: 'order.created',
      [WARREN_HEADERS.originalQueue]: 'billing',
      [FIRST_FAILURE_HEADER]: '2026-01-01T00:00:00.000Z',
    });
    expect(headers['x-death']).toBeUndefined();
  });

  it('records when a parked retry is due, and drops it on replay', () => {
    const headers = retryHeaders(message(), 'billing', 1, new Error('bad'), '2026-01-01T00:00:00.000Z', 1500);
    expect(headers[RETRY_DUE_HEADER]).toBe('2026-01-01T00:00:01.500Z');
    // A stale due time of an earlier wait never survives a retry that gives none.
    expect(retryHeaders(message(headers), 'billing', 2, new Error('bad'))[RETRY_DUE_HEADER]).toBeUndefined();
    expect(replayHeaders(headers)[RETRY_DUE_HEADER]).toBeUndefined();
  });

  it('replays with the bookkeeping stripped and the rest kept', () => {
    const parked = deadLetterHeaders(message({ app: 'kept', [WARREN_HEADERS.attempt]: 3 }), 'billing', 'B.c', new Error('x'), 3);
    const original: Record<string, unknown> = { ...parked, [LAST_ERROR_HEADER]: 'Error: x', 'x-death': [{}], 'x-first-death-queue': 'billing' };
    const replayed = replayHeaders(original);
    expect(replayed).toEqual({
      app: 'kept',
      [WARREN_HEADERS.originalExchange]: 'orders',
      [WARREN_HEADERS.originalRoutingKey]: 'order.created',
      [WARREN_HEADERS.originalQueue]: 'billing',
    });
    expect(original[DEAD_LETTER_HEADERS.errorName]).toBe('Error');
  });

  it('keeps the properties worth re-publishing, persistent and mandatory', () => {
    expect(keptProperties({ messageId: 'm', contentType: 'application/json', expiration: '10', replyTo: 'q', priority: null })).toEqual({
      persistent: true,
      mandatory: true,
      messageId: 'm',
      contentType: 'application/json',
    });
  });

  it('records the reason and reads it back', () => {
    const error = new RangeError('too big');
    (error as RangeError & { code: string }).code = 'E_BIG';
    const headers = deadLetterHeaders(message(), 'billing', 'Billing.charge', error, 3, '2026-01-01T00:00:00.000Z');
    const reason = readReason({ headers } as unknown as MessageProperties);
    expect(reason).toMatchObject({
      errorName: 'RangeError',
      errorMessage: 'too big',
      errorCode: 'E_BIG',
      handler: 'Billing.charge',
      attempts: 3,
      firstFailureAt: '2026-01-01T00:00:00.000Z',
      lastFailureAt: '2026-01-01T00:00:00.000Z',
      exchange: 'orders',
      routingKey: 'order.created',
      queue: 'billing',
    });
    expect(reason.errorStack).toContain('RangeError: too big');
  });

  it('keeps the original route and first failure across retries', () => {
    const headers = deadLetterHeaders(
      message({
        [WARREN_HEADERS.originalExchange]: 'first',
        [WARREN_HEADERS.originalRoutingKey]: 'key',
        'warren-first-failure-at': '2020-01-01T00:00:00.000Z',
        'x-death': [{}],
      }),
      'q',
      undefined,
      'a string',
      2,
    );
    expect(headers[WARREN_HEADERS.originalExchange]).toBe('first');
    expect(headers[DEAD_LETTER_HEADERS.firstFailureAt]).toBe('2020-01-01T00:00:00.000Z');
    expect(headers[DEAD_LETTER_HEADERS.errorMessage]).toBe('a string');
    expect(headers['x-death']).toBeUndefined();
  });

  it('explains broker dead letters from x-death', () => {
    const reason = readReason({
      headers: { 'x-death': [{ reason: 'delivery_limit', count: 4, queue: 'q', exchange: 'ex', 'routing-keys': ['rk'], time: { value: 1700000000 } }] },
    } as unknown as MessageProperties);
    expect(reason).toMatchObject({ errorName: 'BrokerDeadLetter', attempts: 4, queue: 'q', exchange: 'ex', routingKey: 'rk' });
    expect(reason.errorMessage).toContain('delivery limit');
  });

  it('trims stacks', () => {
    const stack = ['Error: x', ...Array.from({ length: 50 }, (_, i) => `    at f${i}`)].join('\n');
    expect(trimStack(stack)?.split('\n')).toHaveLength(9);
    expect(trimStack(undefined)).toBeUndefined();
  });
});

describe('deadLetterHeaders with odd thrown values', () => {
  const message = {
    content: Buffer.from('{}'),
    fields: { deliveryTag: 1, redelivered: false, exchange: 'x', routingKey: 'k', consumerTag: 'c' },
    properties: { headers: {} },
  } as unknown as import('amqplib').ConsumeMessage;

  it.each([
    ['an Error whose message is a number', Object.assign(new Error('x'), { message: 42 as unknown as string, code: Symbol('c') })],
    ['an Error whose name is not a string', Object.assign(new Error('x'), { name: 7 as unknown as string })],
    ['a Symbol', Symbol('thrown')],
    [
      'an HttpException-like whose getResponse throws',
      Object.assign(new Error('bad'), {
        getResponse: () => {
          throw new Error('no');
        },
      }),
    ],
  ])('holds strings only for %s', (_what, error) => {
    const headers = deadLetterHeaders(message, 'q', 'H.h', error, 1);
    for (const name of ['warren-dead-error-name', 'warren-dead-error-message']) expect(typeof headers[name]).toBe('string');
    const code = headers['warren-dead-error-code'];
    expect(code === undefined || typeof code === 'string').toBe(true);
  });
});
