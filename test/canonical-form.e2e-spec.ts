import { to as copyTo } from 'pg-copy-streams';
import { escapeCopyText } from '../src/audit/copy-format';
import { inetText } from '../src/audit/integrity/inet-text';
import { jsonbText } from '../src/audit/integrity/jsonb-text';
import { createTestDatabase, TestDatabase } from './support/test-db';

/** A deterministic pseudo-random JSON value: nested objects and arrays, odd keys, numbers, escapes. */
function randomValue(seed: { s: number }, depth = 0): unknown {
  const r = () => (seed.s = (seed.s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = r();
  if (depth < 3 && pick < 0.25) {
    const o: Record<string, unknown> = {};
    for (let i = 0, n = Math.floor(r() * 5); i < n; i++)
      o[
        ['a', 'bb', 'B', 'é', 'ключ', '😀', 'a b', 'x\ny', '', 'id', 'Z9'][Math.floor(r() * 11)] +
          (i % 2 ? i : '')
      ] = randomValue(seed, depth + 1);
    return o;
  }
  if (depth < 3 && pick < 0.4)
    return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(seed, depth + 1));
  if (pick < 0.55)
    return ['', 'plain', 'q"uote', 'back\\slash', 'tab\there', 'ctl\u0001\u001f', 'ünï 😀', '\u2028'][
      Math.floor(r() * 8)
    ];
  if (pick < 0.8)
    return [0, -1, 3.14, 1e21, 1.5e-7, -2.5e30, 123456789012345680000, 0.1 + 0.2, 2 ** 53][
      Math.floor(r() * 9)
    ];
  return [true, false, null][Math.floor(r() * 3)];
}

describe('canonical forms match what Postgres prints', () => {
  let db: TestDatabase;
  beforeAll(async () => (db = await createTestDatabase()));
  afterAll(async () => db?.drop());

  it('jsonbText equals jsonb::text for 500 random documents', async () => {
    const seed = { s: 42 };
    const values = Array.from({ length: 500 }, () => ({ root: randomValue(seed) }));
    const { rows } = await db.sql.query(`SELECT v::jsonb::text AS t FROM unnest($1::text[]) AS v`, [
      values.map((v) => JSON.stringify(v)),
    ]);
    expect(rows.map((r) => r.t)).toEqual(values.map((v) => jsonbText(v)));
  });

  it('inetText equals the inet output form (abbrev) for IPv4 and IPv6 spellings', async () => {
    const inputs = [
      '203.0.113.9',
      '0.0.0.0',
      '::',
      '::1',
      '1::',
      '2001:DB8::1',
      '2001:db8:0:0:1:0:0:1',
      '2001:0db8:0000:0000:0000:ff00:0042:8329',
      '::ffff:192.0.2.128',
      '::192.0.2.128',
      '::0:1',
      '1:0:0:0:0:0:0:0',
      '0:0:0:0:0:0:0:2',
      'fe80::1:0:0:0',
      '1:2:3:4:5:6:7:8',
      '1:0:2:0:0:3:0:0',
      '::ffff:0:1.2.3.4',
      '64:ff9b::192.0.2.33',
      '::0.0.0.1',
    ];
    const { rows } = await db.sql.query(
      `SELECT abbrev(v::inet) AS t FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n`,
      [inputs],
    );
    expect(rows.map((r) => r.t)).toEqual(inputs.map((i) => inetText(i)));
  });

  it('escapeCopyText equals what COPY TO prints for text with every control character', async () => {
    const texts = [
      'plain',
      'back\\slash',
      Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join(''),
      'ünï\u2028 😀 \x7f',
    ];
    const chunks: Buffer[] = [];
    const literal = texts.map((t) => `(${db.sql.escapeLiteral(t)})`).join(', ');
    const stream = db.sql.query(copyTo(`COPY (SELECT v FROM (VALUES ${literal}) AS t(v)) TO STDOUT`));
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(texts.map((t) => escapeCopyText(t) + '\n').join(''));
  });
});
