import { TransportNotReadyError } from './transport-not-ready.error';
import { WarrenError } from './warren.error';

describe('TransportNotReadyError', () => {
  it('says which side is not ready and what to call first', () => {
    const server = new TransportNotReadyError('WarrenServer');
    expect(server).toBeInstanceOf(WarrenError);
    expect(server).toMatchObject({ code: 'TRANSPORT_NOT_READY', name: 'TransportNotReadyError', transport: 'WarrenServer' });
    expect(server.message).toMatch(/^WarrenServer is not listening yet; .*app\.listen\(\)/);
    expect(new TransportNotReadyError('WarrenClient').message).toBe('WarrenClient is not connected yet; call connect() first.');
  });
});
