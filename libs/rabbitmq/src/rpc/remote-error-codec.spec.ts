import { JsonSerializer, type Serializer } from '../message/serializer';
import { encodeRemoteError, encodeRemoteErrorBody } from './remote-error-codec';

const json = new JsonSerializer();
const read = (body: Buffer): unknown => JSON.parse(body.toString());

describe('encodeRemoteError', () => {
  it('never throws, whatever was thrown', () => {
    const circular: Record<string, unknown> = { name: 'LoopError', message: 'loops' };
    circular.self = circular;
    const unreadable = Object.create(null) as object;
    const trap = new Proxy(new Error('x'), {
      get: () => {
        throw new Error('trap');
      },
    });
    for (const thrown of [circular, unreadable, 10n, null, undefined, trap, Symbol('s')]) {
      expect(() => encodeRemoteError(thrown)).not.toThrow();
    }
    expect(encodeRemoteError(circular)).toMatchObject({ name: 'LoopError', message: 'loops' });
    expect(encodeRemoteError(10n)).toMatchObject({ name: 'Error', message: '10' });
  });
});

describe('encodeRemoteErrorBody', () => {
  it('keeps the data when it can be serialized', () => {
    const error = Object.assign(new Error('limit'), { code: 'LIMIT', data: { limit: 10 } });
    const encoded = encodeRemoteErrorBody(json, error);
    expect(read(encoded.body)).toEqual({ name: 'Error', message: 'limit', code: 'LIMIT', data: { limit: 10 } });
    expect(encoded.dataDropped).toBe(false);
  });

  it('sends name, message and code without the data when the data cannot be serialized', () => {
    const error = Object.assign(new Error('limit'), { name: 'LimitError', code: 'LIMIT', data: { limit: 10n } });
    const encoded = encodeRemoteErrorBody(json, error);
    expect(read(encoded.body)).toEqual({ name: 'LimitError', message: 'limit', code: 'LIMIT' });
    expect(encoded.dataDropped).toBe(true);
  });

  it('falls back to plain JSON when the serializer encodes nothing', () => {
    const refusing: Serializer = {
      contentType: 'application/x-custom',
      serialize: () => {
        throw new Error('no');
      },
      deserialize: () => undefined,
    };
    const encoded = encodeRemoteErrorBody(refusing, new Error('boom'));
    expect(encoded.contentType).toBe('application/json');
    expect(read(encoded.body)).toEqual({ name: 'Error', message: 'boom' });
  });
});
