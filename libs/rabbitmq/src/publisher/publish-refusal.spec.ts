import { publishRefusalOf, refusesTheExchange } from './publish-refusal';

const closeError = (code: number, classId: number, methodId: number): Error => Object.assign(new Error(`closed ${code}`), { code, classId, methodId });

describe('publishRefusalOf', () => {
  it('reads the reply code of a channel.close caused by basic.publish (class 60, method 40)', () => {
    expect(publishRefusalOf(closeError(403, 60, 40))).toEqual({ code: 403, text: 'closed 403' });
  });

  it('ignores a close caused by another method, and errors without a reply code', () => {
    expect(publishRefusalOf(closeError(406, 50, 10))).toBeUndefined(); // queue.declare
    expect(publishRefusalOf(new Error('socket hang up'))).toBeUndefined();
    expect(publishRefusalOf(null)).toBeUndefined();
  });

  it('tells refusals of the exchange (403, 404) from refusals of the message (406)', () => {
    expect(refusesTheExchange({ code: 404, text: '' })).toBe(true);
    expect(refusesTheExchange({ code: 403, text: '' })).toBe(true);
    expect(refusesTheExchange({ code: 406, text: '' })).toBe(false);
  });
});
