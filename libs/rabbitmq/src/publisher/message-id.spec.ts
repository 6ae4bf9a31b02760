import { messageIdFrom } from './message-id';

describe('messageIdFrom', () => {
  it('is deterministic and independent of key order', () => {
    expect(messageIdFrom('order', { id: 1, b: 2 })).toBe(messageIdFrom('order', { b: 2, id: 1 }));
  });

  it('differs for different parts', () => {
    expect(messageIdFrom('order', 1)).not.toBe(messageIdFrom('order', 2));
    expect(messageIdFrom('a', 'b')).not.toBe(messageIdFrom('ab'));
  });

  it('is shaped like a UUID', () => {
    expect(messageIdFrom('x')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
