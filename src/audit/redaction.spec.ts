import {
  DEFAULT_REDACT_KEYS,
  keyMatcher,
  keyWords,
  looksLikeCardNumber,
  RedactionRules,
  sanitizeState,
} from './redaction';
import { REDACTED } from '../common/serialization/safe-serialize';

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

    it.each([
      'newPassword',
      'password_hash',
      'refreshToken',
      'stripeSecretKey',
      'apiKey',
      'passwordupdatedat', // no word boundary: nothing says it is only a date
      'passwordReset', // not `set`: the last word is `reset`
      'tokenSet', // a collection of tokens
      'privateKeySet',
      'passwordHint', // a hint gives the password away
      'secretQuestionId', // an id of a secret may be the bearer secret itself (a reset id)
      'tokenFormat', // not `at`: the last word is `format`
    ])('still redacts the secret %s', (key) => {
      expect(redact({ [key]: 'very-secret-value' })).toEqual({ [key]: REDACTED });
    });

    it.each([
      'passwordUpdatedAt',
      'password_updated_at',
      'tokenExpiresAt',
      'secretRotationDate',
      'accessTokenTtl',
      'tokenCount',
      'failedPasswordAttempts',
      'passwordLength',
      'apiKeyEnabled',
      'passwordPolicy',
      'tokenVersion',
      'hasPassword',
      'is_secret',
    ])('keeps the neighbour %s: it describes a secret, it is not one', (key) => {
      const input = { [key]: key.endsWith('At') ? '2026-01-01T00:00:00.000Z' : 3 };
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

describe('keyWords', () => {
  it.each([
    ['clientIPAddress', ['client', 'ip', 'address']],
    ['remote_ip', ['remote', 'ip']],
    ['x-forwarded-for', ['x', 'forwarded', 'for']],
    ['passwordUpdatedAt', ['password', 'updated', 'at']],
    ['PASSWORD_HASH', ['password', 'hash']],
    ['zip', ['zip']],
  ])('splits %s at separators and camelCase', (key, words) => expect(keyWords(key)).toEqual(words));
});

describe('keyMatcher', () => {
  it('matches `word` whole, `word*` anywhere, `~word` as whole words, all without case or separators', () => {
    const matches = keyMatcher(['cvv', 'secret*', '~ip', '~card holder']);
    expect(['cvv', 'CVV', 'c_v_v'].every(matches)).toBe(true);
    expect(matches('cvvCode')).toBe(false);
    expect(['clientSecret', 'SECRET_KEY', 'secrets'].every(matches)).toBe(true);
    expect(['ip', 'clientIp', 'remote_ip', 'IPAddress', 'x-real-ip'].every(matches)).toBe(true);
    expect(['zip', 'ship', 'tooltip', 'description', 'clientip'].some(matches)).toBe(false);
    expect(['cardHolder', 'card_holder_name'].every(matches)).toBe(true);
    expect(matches('cardholder')).toBe(false);
  });

  it('drops a neighbour match, but not one reaching into the neighbour word or an exact pattern', () => {
    expect(keyMatcher(['token*'])('tokenCount')).toBe(false);
    expect(keyMatcher(['tokencount*'])('tokenCount')).toBe(true);
    expect(keyMatcher(['tokencount'])('token_count')).toBe(true);
    expect(keyMatcher(['~ip'])('ipCount')).toBe(false);
    expect(keyMatcher(['~ip'])('hasIp')).toBe(false);
    expect(keyMatcher(['count*'])('tokenCount')).toBe(true);
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
  it('returns a null value and nothing redacted for a missing state', () => {
    expect(sanitizeState(undefined, defaults, MAX_BYTES)).toEqual({ value: null, redacted: null });
    expect(sanitizeState(null, defaults, MAX_BYTES)).toEqual({ value: null, redacted: null });
  });

  it('has nothing redacted when no key or value matched', () => {
    expect(sanitizeState({ name: 'Ada' }, defaults, MAX_BYTES).redacted).toBeNull();
  });

  it('keeps each redacted value by its dotted path, for the diff', () => {
    const { redacted } = sanitizeState(
      { password: 'p', credentials: { apiKey: 'k' }, cards: [{ note: '4111 1111 1111 1111' }] },
      defaults,
      MAX_BYTES,
    );
    expect([...(redacted?.paths() ?? [])].sort()).toEqual(['cards.0.note', 'credentials.apiKey', 'password']);
  });

  it('tells equal redacted values from different ones, whatever their type', () => {
    const redactedOf = (input: unknown) => sanitizeState(input, defaults, MAX_BYTES).redacted;
    const hunter = redactedOf({ password: 'hunter2' })!;
    expect(hunter.differs('password', redactedOf({ password: 'hunter2' }))).toBe(false);
    expect(hunter.differs('password', redactedOf({ password: 'hunter3' }))).toBe(true);
    expect(hunter.differs('password', null)).toBe(true);
    expect(redactedOf({ secret: { v: 1 } })!.differs('secret', redactedOf({ secret: { v: 2 } }))).toBe(true);
    expect(redactedOf({ secret: { v: 1n } })!.differs('secret', redactedOf({ secret: { v: 1n } }))).toBe(
      false,
    );
    const at = (iso: string) => redactedOf({ secret: new Date(iso) })!;
    expect(at('2026-01-01T00:00:00Z').differs('secret', at('2026-01-01T00:00:00Z'))).toBe(false);
    expect(at('2026-01-01T00:00:00Z').differs('secret', at('2026-01-02T00:00:00Z'))).toBe(true);
  });

  it('never serializes the values it keeps', () => {
    const { redacted } = sanitizeState({ password: 'hunter2', token: 'tok_123' }, defaults, MAX_BYTES);
    expect(JSON.stringify({ redacted })).not.toMatch(/hunter2|tok_123/);
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
