import { createHash } from 'node:crypto';
import { DEFAULT_REDACT_KEYS, looksLikeCardNumber, RedactionRules, sanitizeState } from 'src/audit/redaction';
import { REDACTED } from 'src/common/serialization/safe-serialize';

const MAX_BYTES = 64 * 1024;
const defaults = RedactionRules.fromKeys(DEFAULT_REDACT_KEYS);
const redact = (input: unknown, rules = defaults) => sanitizeState(input, rules, MAX_BYTES).value;

describe('RedactionRules', () => {
  describe('fromKeys(DEFAULT_REDACT_KEYS)', () => {
    it.each([
      'password',
      'passwordHash',
      'new_password',
      'API-KEY',
      'apiKey',
      'accessToken',
      'refresh_token',
      'authorization',
      'cvv',
      'clientSecret',
    ])('redacts %s at the top level, nested and inside arrays', (key) => {
      const secret = 'very-secret-value';
      const input = {
        [key]: secret,
        profile: { settings: { [key]: secret } },
        items: [{ label: 'first', [key]: secret }],
      };
      const result = redact(input);
      expect(result).toEqual({
        [key]: REDACTED,
        profile: { settings: { [key]: REDACTED } },
        items: [{ label: 'first', [key]: REDACTED }],
      });
      expect(JSON.stringify(result)).not.toContain(secret);
    });

    it('leaves harmless keys alone', () => {
      const input = { name: 'Ada', email: 'ada@example.com', plan: 'pro', company: { name: 'Acme' } };
      expect(redact(input)).toEqual(input);
    });

    it('redacts a whole object or array under a redacted key', () => {
      expect(redact({ tokens: ['t1', 't2'], secret: { nested: 'x' } })).toEqual({
        tokens: REDACTED,
        secret: REDACTED,
      });
    });
  });

  describe('withPaths', () => {
    const rules = RedactionRules.fromKeys([]).withPaths(['profile.ssn', 'items.*.code']);

    it('redacts exactly the given paths, with * matching one level (array indexes included)', () => {
      const input = {
        ssn: 'top-level',
        profile: { ssn: '078-05-1120', name: 'Ada' },
        items: [
          { code: 'A1', label: 'one' },
          { code: 'B2', label: 'two' },
        ],
        other: { code: 'keep' },
        deeper: { items: [{ code: 'keep-too' }] },
      };
      expect(redact(input, rules)).toEqual({
        ssn: 'top-level',
        profile: { ssn: REDACTED, name: 'Ada' },
        items: [
          { code: REDACTED, label: 'one' },
          { code: REDACTED, label: 'two' },
        ],
        other: { code: 'keep' },
        deeper: { items: [{ code: 'keep-too' }] },
      });
    });

    it('keeps the key rules it was built from', () => {
      const combined = defaults.withPaths(['profile.nickname']);
      expect(redact({ password: 'p', profile: { nickname: 'n', name: 'Ada' } }, combined)).toEqual({
        password: REDACTED,
        profile: { nickname: REDACTED, name: 'Ada' },
      });
    });

    it('returns the same rules when no path is given', () => {
      expect(defaults.withPaths(undefined)).toBe(defaults);
      expect(defaults.withPaths([])).toBe(defaults);
    });
  });
});

describe('looksLikeCardNumber', () => {
  it.each([
    '4111111111111111',
    '4111 1111 1111 1111',
    '4111-1111-1111-1111',
    '5555 5555 5555 4444',
    '378282246310005',
  ])('is true for the valid card number %s', (value) => expect(looksLikeCardNumber(value)).toBe(true));

  it.each(['4111 1111 1111 1112', '4111111111111121', '5555-5555-5555-4445'])(
    'is false for %s (wrong Luhn checksum)',
    (value) => expect(looksLikeCardNumber(value)).toBe(false),
  );

  it.each(['0', '12345', '4111 1111', '424242424242'])('is false for the short digit string %s', (value) =>
    expect(looksLikeCardNumber(value)).toBe(false),
  );

  it.each(['+1 415 555 2671', '(415) 555-2671', '415-555-2671', '+44 20 7946 0958'])(
    'is false for the phone number %s',
    (value) => expect(looksLikeCardNumber(value)).toBe(false),
  );

  it('makes sanitizeState redact a card number whatever its key', () => {
    expect(redact({ note: '4111 1111 1111 1111', amount: '12.50' })).toEqual({
      note: REDACTED,
      amount: '12.50',
    });
  });
});

describe('sanitizeState', () => {
  const fingerprintOf = (input: unknown, path: string) =>
    sanitizeState(input, defaults, MAX_BYTES).fingerprints?.get(path);

  it('returns null value and no fingerprints for a missing state', () => {
    expect(sanitizeState(undefined, defaults, MAX_BYTES)).toEqual({ value: null, fingerprints: null });
    expect(sanitizeState(null, defaults, MAX_BYTES)).toEqual({ value: null, fingerprints: null });
  });

  it('returns no fingerprints when nothing was redacted', () => {
    expect(sanitizeState({ name: 'Ada' }, defaults, MAX_BYTES).fingerprints).toBeNull();
  });

  it('fingerprints each redacted value by its dotted path', () => {
    const { fingerprints } = sanitizeState(
      { password: 'p', credentials: { apiKey: 'k' }, cards: [{ note: '4111 1111 1111 1111' }] },
      defaults,
      MAX_BYTES,
    );
    expect([...(fingerprints?.keys() ?? [])].sort()).toEqual([
      'cards.0.note',
      'credentials.apiKey',
      'password',
    ]);
  });

  it('gives equal fingerprints for equal secrets and different ones for different secrets', () => {
    const hunter = fingerprintOf({ password: 'hunter2' }, 'password');
    expect(hunter).toEqual(expect.any(String));
    expect(fingerprintOf({ password: 'hunter2' }, 'password')).toBe(hunter);
    expect(fingerprintOf({ password: 'hunter3' }, 'password')).not.toBe(hunter);
    expect(fingerprintOf({ secret: { v: 1 } }, 'secret')).not.toBe(
      fingerprintOf({ secret: { v: 2 } }, 'secret'),
    );
  });

  it('uses a keyed fingerprint, not a plain hash that could be looked up', () => {
    const plain = createHash('sha256').update('hunter2').digest('base64url');
    expect(fingerprintOf({ password: 'hunter2' }, 'password')).not.toBe(plain);
  });

  it('never lets a secret into the returned value', () => {
    const secrets = ['hunter2', 'sk_live_abc', 'tok_123', '4111 1111 1111 1111'];
    const { value } = sanitizeState(
      {
        user: { password: secrets[0], profile: { name: 'Ada' } },
        integrations: [{ clientSecret: secrets[1], refresh_token: secrets[2] }],
        payment: { memo: secrets[3] },
      },
      defaults,
      MAX_BYTES,
    );
    const json = JSON.stringify(value);
    for (const secret of secrets) expect(json).not.toContain(secret);
    expect(json).toContain('Ada');
  });
});
