import { UnsupportedOperationError } from './unsupported-operation.error';
import { WarrenError } from './warren.error';

describe('UnsupportedOperationError', () => {
  it('names the operation and what to use instead', () => {
    const error = new UnsupportedOperationError('WarrenServer.on', 'subscribe to status$ instead');
    expect(error).toBeInstanceOf(WarrenError);
    expect(error).toMatchObject({ code: 'UNSUPPORTED_OPERATION', name: 'UnsupportedOperationError', operation: 'WarrenServer.on' });
    expect(error.message).toBe('WarrenServer.on() is not supported: subscribe to status$ instead');
  });
});
