import { MessageIdSequence, messageIdFrom } from './message-id';

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

describe('MessageIdSequence', () => {
  // 80 random bits (base64url), a dash, a 48-bit counter: under 32 characters (see MessageIdSequence).
  const SHAPE = /^[A-Za-z0-9_-]{14}-[0-9a-f]{12}$/;

  it('gives 27-character ids, all distinct', () => {
    const sequence = new MessageIdSequence();
    const ids = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const id = sequence.next();
      if (i % 9_973 === 0) expect(id).toMatch(SHAPE);
      ids.add(id);
    }
    expect(ids.size).toBe(100_000);
  });

  it('does not repeat another sequence’s ids (each draws its own random part)', () => {
    const a = new MessageIdSequence();
    const b = new MessageIdSequence();
    const fromA = new Set(Array.from({ length: 1_000 }, () => a.next()));
    for (let i = 0; i < 1_000; i++) expect(fromA.has(b.next())).toBe(false);
    expect(a.next().slice(0, 14)).not.toBe(b.next().slice(0, 14));
  });
});
