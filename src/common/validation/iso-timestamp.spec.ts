import { parseIsoTimestamp } from './iso-timestamp';
import { isSafeText } from './safe-text';

describe('parseIsoTimestamp', () => {
  it.each([
    ['2026-11-01', '2026-11-01T00:00:00.000Z'],
    ['2026-11-01T10:00', '2026-11-01T10:00:00.000Z'],
    ['2026-11-01T10:00:05Z', '2026-11-01T10:00:05.000Z'],
    ['2026-11-01T10:00:05.123456789Z', '2026-11-01T10:00:05.123Z'],
    ['2026-11-01T10:00:05.1+02:00', '2026-11-01T08:00:05.100Z'],
    ['2024-02-29T23:59:59-14:00', '2024-03-01T13:59:59.000Z'],
    ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
  ])('reads %s as %s', (input, expected) => {
    expect(parseIsoTimestamp(input)?.toISOString()).toBe(expected);
  });

  it.each([
    '2026-W01',
    '2026-W01-1',
    '2026-305',
    '20261101',
    '20261101T100000Z',
    '2026-11-01T25:00',
    '2026-11-01T24:00:00Z',
    '2026-11-01T10:60',
    '2026-11-01T10:00:60Z',
    '2026-02-29',
    '2026-13-01',
    '2026-00-10',
    '0000-01-01',
    '1969-12-31T23:59:59.999Z',
    '1970-01-01T00:30:00+01:00',
    '275761-01-01',
    '+275760-09-13T00:00:00Z',
    '9999-12-31T23:00:00-02:00',
    '2026-11-01T10:00:00.1234567891Z',
    '2026-11-01T10:00:00+15:00',
    '2026-11-01 10:00:00Z',
    '2026-11-01T10Z',
    '２０２６-11-01',
    '2026-11-01\u0000',
    '',
    'NaN',
  ])('refuses %j', (input) => {
    expect(parseIsoTimestamp(input)).toBeNull();
  });

  it('refuses what is not a string', () => {
    expect(parseIsoTimestamp(['2026-11-01'])).toBeNull();
    expect(parseIsoTimestamp(1_700_000_000_000)).toBeNull();
  });
});

describe('isSafeText', () => {
  it('accepts text up to the bound, any plane of Unicode included', () => {
    expect(isSafeText('account:42', 256)).toBe(true);
    expect(isSafeText('Zoë 𝄞 名前', 256)).toBe(true);
    expect(isSafeText('x'.repeat(256), 256)).toBe(true);
  });

  it.each([
    '',
    'x'.repeat(257),
    'a\u0000b',
    'tab\there',
    'line\n',
    'del\u007f',
    'lone \ud800',
    'lone \udc00 low',
  ])('refuses %j', (input) => {
    expect(isSafeText(input, 256)).toBe(false);
  });
});
