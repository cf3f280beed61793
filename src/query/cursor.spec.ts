import { CursorCodec, CursorPosition } from './cursor';

const SECRET = 'cursor-secret-0123456789-0123456789';
const SCOPE = 'org-1|actor=user-1';
const position: CursorPosition = {
  occurredAt: '2026-03-01 12:34:56.123456+00',
  id: '01960000-0000-7000-8000-000000000001',
};

describe('CursorCodec', () => {
  const codec = new CursorCodec(SECRET);

  it('decodes what it encoded, microseconds included', () => {
    expect(codec.decode(codec.encode(position, SCOPE), SCOPE)).toEqual(position);
  });

  it('produces a URL-safe cursor', () => {
    expect(codec.encode(position, SCOPE)).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });

  it('rejects a cursor whose body was replaced', () => {
    const [, signature] = codec.encode(position, SCOPE).split('.');
    const [otherBody] = codec
      .encode({ ...position, id: '01960000-0000-7000-8000-000000000002' }, SCOPE)
      .split('.');
    expect(codec.decode(`${otherBody}.${signature}`, SCOPE)).toBeNull();
  });

  it('rejects a cursor whose signature was altered', () => {
    const cursor = codec.encode(position, SCOPE);
    const last = cursor.at(-1) === 'A' ? 'B' : 'A';
    expect(codec.decode(cursor.slice(0, -1) + last, SCOPE)).toBeNull();
    expect(codec.decode(cursor.slice(0, -1), SCOPE)).toBeNull();
  });

  it('rejects a cursor issued for another scope', () => {
    expect(codec.decode(codec.encode(position, SCOPE), 'org-2|actor=user-1')).toBeNull();
  });

  it('rejects a cursor signed with another secret', () => {
    const forged = new CursorCodec('another-secret-0123456789-01234567').encode(position, SCOPE);
    expect(codec.decode(forged, SCOPE)).toBeNull();
  });

  it.each(['', '.', '..', 'abc', 'abc.', '.abc', 'a.b.c', '%%%.%%%', '✓.✓', 'x'.repeat(10_000), 'eyJ9.eyJ9'])(
    'returns null for the malformed cursor %j without throwing',
    (garbage) => {
      expect(codec.decode(garbage, SCOPE)).toBeNull();
    },
  );

  it.each([
    { occurredAt: '2026-03-01 12:34:56\u0000', id: position.id },
    { occurredAt: 'NaN', id: position.id },
    { occurredAt: position.occurredAt, id: 'not-a-uuid' },
    { occurredAt: position.occurredAt, id: `${position.id}\u0000` },
  ])('returns null for a correctly signed position SQL could not read (%j)', (bad) => {
    expect(codec.decode(codec.encode(bad, SCOPE), SCOPE)).toBeNull();
  });

  it('rejects a valid cursor with an extra segment', () => {
    expect(codec.decode(`${codec.encode(position, SCOPE)}.extra`, SCOPE)).toBeNull();
  });
});
