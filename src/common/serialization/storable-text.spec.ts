import { storableText } from './storable-text';

describe('storableText', () => {
  it('keeps ordinary text, and valid surrogate pairs, as they are', () => {
    expect(storableText('plain ascii')).toBe('plain ascii');
    expect(storableText('café 😀 𝄞')).toBe('café 😀 𝄞');
  });

  it('replaces NUL and lone surrogates (either half, anywhere) with U+FFFD', () => {
    expect(storableText('a\u0000b')).toBe('a\ufffdb');
    expect(storableText('\ud800')).toBe('\ufffd');
    expect(storableText('x\udfff')).toBe('x\ufffd');
    expect(storableText('\udc00\ud83d')).toBe('\ufffd\ufffd'); // a pair in the wrong order
    expect(storableText('ok😀\ud83d')).toBe('ok😀\ufffd');
    expect(storableText('\u0000\u0000')).toBe('\ufffd\ufffd');
  });

  it('returns text Postgres accepts inside JSON', () => {
    const value = storableText('a\u0000\ud800b\udc00😀');
    expect(JSON.stringify(value)).not.toMatch(/\\u(0000|d[89a-f])/i);
    expect(Buffer.from(value, 'utf8').toString('utf8')).toBe(value); // survives UTF-8 unchanged
  });
});
