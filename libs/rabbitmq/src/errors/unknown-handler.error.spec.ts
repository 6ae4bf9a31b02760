import { UnknownHandlerError } from './unknown-handler.error';
import { WarrenError } from './warren.error';

describe('UnknownHandlerError', () => {
  it('names the handler, the connection and the handlers it has', () => {
    const error = new UnknownHandlerError('Billing.charge', 'default', ['Orders.created', 'Orders.paid']);
    expect(error).toBeInstanceOf(WarrenError);
    expect(error).toMatchObject({
      code: 'UNKNOWN_HANDLER',
      name: 'UnknownHandlerError',
      handler: 'Billing.charge',
      connection: 'default',
      known: ['Orders.created', 'Orders.paid'],
    });
    expect(error.message).toMatch(/^No handler named 'Billing.charge' on connection 'default' \(known: Orders.created, Orders.paid\)\. /);
    expect(new UnknownHandlerError('X.y', 'c', []).message).toContain('(known: none)');
  });
});
