import { compareKeys, jsonbText, numberText } from './jsonb-text';
import { inetText } from './inet-text';
import { merkleRoot } from './seal';
import { createHash } from 'node:crypto';

describe('jsonbText', () => {
  it('prints objects as jsonb does: keys by length then bytes, ", " and ": " separators', () => {
    expect(jsonbText({ bb: 1, a: [1, 'x', null], c: { z: true, y: false } })).toBe(
      '{"a": [1, "x", null], "c": {"y": false, "z": true}, "bb": 1}',
    );
    expect(jsonbText({})).toBe('{}');
    expect(jsonbText([])).toBe('[]');
    expect(jsonbText([{}, { '': 1 }, {}])).toBe('[{}, {"": 1}, {}]');
  });

  it('follows JSON.stringify for undefined, functions, non-finite numbers and toJSON', () => {
    expect(jsonbText({ a: undefined, b: () => 1, c: NaN, d: [undefined] })).toBe('{"c": null, "d": [null]}');
    expect(jsonbText({ when: new Date('2026-01-02T03:04:05.000Z') })).toBe(
      '{"when": "2026-01-02T03:04:05.000Z"}',
    );
  });

  it('escapes strings like Postgres escape_json', () => {
    expect(jsonbText('a"b\\c\n\t\u0001é')).toBe('"a\\"b\\\\c\\n\\t\\u0001é"');
  });

  it('orders non-ASCII keys by their UTF-8 length and bytes', () => {
    expect(['é', 'ab', 'z'].sort(compareKeys)).toEqual(['z', 'ab', 'é'].sort(compareKeys));
    expect(['é', 'ab', 'z'].sort(compareKeys)[0]).toBe('z');
  });

  it('prints numbers without exponent, as numeric does', () => {
    expect(numberText(1e21)).toBe('1000000000000000000000');
    expect(numberText(-1.5e-7)).toBe('-0.00000015');
    expect(numberText(1.2345e25)).toBe('12345000000000000000000000');
    expect(numberText(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(numberText(-0)).toBe('0');
  });
});

describe('inetText', () => {
  it.each([
    ['203.0.113.9', '203.0.113.9'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::1', '::1'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
    ['fe80:0000:0000:0000:0204:61ff:fe9d:f156', 'fe80::204:61ff:fe9d:f156'],
    ['nonsense', null],
  ])('%s prints as %s', (input, expected) => {
    expect(inetText(input)).toBe(expected);
  });
});

describe('merkleRoot', () => {
  const leaf = (n: number) => ({ id: `0000000${n}`, hash: createHash('sha256').update(String(n)).digest() });
  it('does not depend on the order leaves are given in, and changes with any leaf', () => {
    const a = merkleRoot([leaf(1), leaf(2), leaf(3)]);
    expect(merkleRoot([leaf(3), leaf(1), leaf(2)])).toEqual(a);
    expect(merkleRoot([leaf(1), leaf(2)])).not.toEqual(a);
    expect(merkleRoot([leaf(1), leaf(2), leaf(4)])).not.toEqual(a);
  });
});
