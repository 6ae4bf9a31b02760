import { maskJson, previewPayload } from './payload-preview';

describe('previewPayload', () => {
  it('masks configured JSON paths, with * for any key or array index, and counts them', () => {
    const body = Buffer.from(JSON.stringify({ card: { number: '4111', cvc: '123' }, items: [{ token: 'a' }, { token: 'b', sku: 'x' }], note: 'ok' }));
    const preview = previewPayload(body, ['card.number', 'items.*.token', 'missing.path'], 4096);
    expect(preview.kind).toBe('json');
    expect(preview.masked).toBe(3);
    expect(JSON.parse(preview.text)).toEqual({ card: { number: '***', cvc: '123' }, items: [{ token: '***' }, { token: '***', sku: 'x' }], note: 'ok' });
  });

  it('cuts a preview to the byte limit at a character boundary and says how much is left', () => {
    const body = Buffer.from(JSON.stringify({ text: 'é'.repeat(5000) }));
    const preview = previewPayload(body, [], 101);
    expect(Buffer.byteLength(preview.text)).toBeLessThanOrEqual(101);
    expect(preview.text).not.toContain('\uFFFD');
    expect(preview.cut).toBe(Buffer.byteLength(JSON.stringify({ text: 'é'.repeat(5000) }, null, 2)) - Buffer.byteLength(preview.text));
  });

  it('shows text as text, binary as hex, and nothing of a body it cannot mask when masks are configured', () => {
    expect(previewPayload(Buffer.from('plain <b>text</b>'), [], 100)).toMatchObject({ kind: 'text', text: 'plain <b>text</b>' });
    expect(previewPayload(Buffer.from([0xde, 0xad, 0x00, 0x01]), [], 100)).toMatchObject({ kind: 'binary', text: 'de ad 00 01', bytes: 4 });
    expect(previewPayload(Buffer.from([0xc3, 0x28]), [], 100).kind).toBe('binary'); // invalid UTF-8
    expect(previewPayload(Buffer.from('card=4111'), ['card'], 100)).toMatchObject({ kind: 'hidden', text: '' });
    expect(previewPayload(Buffer.alloc(0), ['card'], 100).kind).toBe('empty');
  });

  it('leaves scalars and unknown paths alone', () => {
    const value: unknown = 42;
    expect(maskJson(value, ['a.b'])).toBe(0);
    expect(maskJson({ a: 'x' }, ['a.b'])).toBe(0);
    expect(maskJson(null, ['*'])).toBe(0);
  });
});
