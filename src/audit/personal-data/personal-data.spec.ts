import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AuditEvent } from '../audit.types';
import {
  decryptValue,
  encryptValue,
  ERASED,
  refToUuid,
  TOKEN,
  unwrapKey,
  uuidToRef,
} from './personal-data.cipher';
import { DEFAULT_PERSONAL_KEYS, IP_METADATA_KEY, PersonalDataProtector } from './personal-data.protector';
import { resolveAuditOptions } from '../audit-options';
import { RevealTransform } from './personal-data.service';
import { SubjectKeyring } from './subject-keyring';

const KEK = Buffer.alloc(32, 5);

const baseEvent = (overrides: Partial<AuditEvent> = {}): AuditEvent => ({
  id: '01a20d1f-d94f-735f-869f-39e45a1e1fc7',
  occurredAt: new Date('2026-11-24T10:00:00.000Z'),
  organizationId: 'org-a',
  actorId: 'alice',
  actorType: 'user',
  action: 'update',
  eventType: 'account.update',
  resourceType: 'account',
  resourceId: '42',
  before: { name: 'Ada', email: 'ada@example.com', plan: 'free', profile: { Phone: '+44 1' } },
  after: { name: 'Ada', email: 'ada@lovelace.org', plan: 'pro', profile: { Phone: '+44 1' } },
  changes: [
    { path: 'email', before: 'ada@example.com', after: 'ada@lovelace.org' },
    { path: 'plan', before: 'free', after: 'pro' },
  ],
  status: 'success',
  statusCode: 200,
  errorMessage: null,
  severity: 'info',
  requestId: 'r1',
  ip: '203.0.113.9',
  userAgent: 'jest',
  route: '/accounts/:id',
  method: 'PATCH',
  durationMs: 3,
  metadata: null,
  ...overrides,
});

describe('personal data cipher', () => {
  const key = Buffer.alloc(32, 1);
  const ref = uuidToRef('01a20d1f-d94f-735f-869f-39e45a1e1fc8');

  it('round-trips any JSON value through a token naming its key', () => {
    for (const value of ['ada@example.com', 42, { first: 'Ada', last: 'Lovelace' }, ['x', null], '']) {
      const token = encryptValue(key, ref, value);
      const match = TOKEN.exec(token)!;
      expect(match[1]).toBe(ref);
      expect(refToUuid(match[1])).toBe('01a20d1f-d94f-735f-869f-39e45a1e1fc8');
      expect(decryptValue(key, match[2])).toEqual(value);
    }
  });

  it('refuses a wrong key and a changed byte (authenticated encryption)', () => {
    const payload = TOKEN.exec(encryptValue(key, ref, 'ada@example.com'))![2];
    expect(() => decryptValue(Buffer.alloc(32, 2), payload)).toThrow();
    const bytes = Buffer.from(payload, 'base64url');
    bytes[14] ^= 1;
    expect(() => decryptValue(key, bytes.toString('base64url'))).toThrow();
  });

  it('binds a wrapped key to its subject: copied onto another subject it does not open', () => {
    const keyring = new SubjectKeyring(KEK, 60_000);
    const { record, dataKey } = keyring.keyFor('org-a', 'account:42');
    const wrapped = Buffer.from(record.wrappedKey, 'base64');
    expect(unwrapKey(KEK, wrapped, record.id, 'org-a', 'account:42')).toEqual(dataKey);
    expect(() => unwrapKey(KEK, wrapped, record.id, 'org-a', 'account:43')).toThrow();
    expect(() => unwrapKey(KEK, wrapped, record.id, 'org-b', 'account:42')).toThrow();
  });
});

describe('PersonalDataProtector', () => {
  const protector = () => {
    const keyring = new SubjectKeyring(KEK, 60_000);
    return { keyring, protector: new PersonalDataProtector(keyring, ['email', 'name', 'phone']) };
  };

  it('encrypts personal keys at any depth, in states, diff and metadata; leaves the rest readable', () => {
    const { protector: p } = protector();
    const { event, keys } = p.protect(
      baseEvent({ metadata: { source: 'web', contact: { email: 'x@y.z' } } }),
    );
    const text = JSON.stringify(event);
    for (const plain of ['ada@example.com', 'ada@lovelace.org', '"Ada"', '+44 1', 'x@y.z', '203.0.113.9']) {
      expect(text).not.toContain(plain);
    }
    expect(event.before).toMatchObject({ plan: 'free' });
    expect(event.after).toMatchObject({ plan: 'pro' });
    expect(event.changes![1]).toEqual({ path: 'plan', before: 'free', after: 'pro' });
    expect(event.metadata).toMatchObject({ source: 'web' });
    expect(event.ip).toBeNull();
    expect(event.metadata![IP_METADATA_KEY]).toMatch(TOKEN);
    // Two subjects: the account (states) and the actor (IP).
    expect(keys.map((k) => k.subjectId).sort()).toEqual(['account:42', 'alice']);
  });

  it('gives equal values equal ciphertext within an event (an unchanged field does not look changed)', () => {
    const { protector: p } = protector();
    const { event } = p.protect(baseEvent());
    const before = event.before as Record<string, unknown>;
    const after = event.after as Record<string, unknown>;
    expect(before.name).toBe(after.name);
    expect(before.email).not.toBe(after.email);
    expect(event.changes![0].before).toBe(before.email);
  });

  it('returns an event without personal data as it is, and stops attaching keys once stored', () => {
    const { protector: p, keyring } = protector();
    const plain = baseEvent({ before: { plan: 'free' }, after: { plan: 'pro' }, changes: null, ip: null });
    expect(p.protect(plain)).toEqual({ event: plain, keys: [] });
    expect(p.protect(plain).event).toBe(plain);
    const first = p.protect(baseEvent());
    expect(first.keys).toHaveLength(2);
    keyring.markStored(first.keys.map((k) => k.id));
    const second = p.protect(baseEvent());
    expect(second.keys).toEqual([]);
  });

  it("uses the actor as the subject when the event has no resource, and 'anonymous' without an actor", () => {
    const { protector: p } = protector();
    const { keys } = p.protect(baseEvent({ resourceType: null, resourceId: null, actorId: null }));
    expect(keys.map((k) => k.subjectId)).toEqual(['anonymous']);
  });
});

describe('DEFAULT_PERSONAL_KEYS', () => {
  const protectedKeys = (keys: string[], personalKeys: readonly string[] = DEFAULT_PERSONAL_KEYS) => {
    const protector = new PersonalDataProtector(new SubjectKeyring(KEK, 60_000), personalKeys);
    const state = Object.fromEntries(keys.map((key) => [key, `value-of-${key}`]));
    const { event } = protector.protect(baseEvent({ before: null, after: state, changes: null, ip: null }));
    const after = event.after as Record<string, string>;
    return keys.filter((key) => after[key] !== `value-of-${key}`);
  };

  it.each([
    [
      'contact fields',
      [
        'email',
        'customerEmail',
        'contact_email',
        'EMAIL_ADDRESS',
        'billingPhone',
        'phone_number',
        'telephone',
        'mobile',
        'mobileNumber',
        'faxNumber',
      ],
    ],
    [
      'person names',
      [
        'name',
        'firstName',
        'last_name',
        'fullName',
        'customerFullName',
        'middleName',
        'givenName',
        'familyName',
        'surname',
        'displayName',
        'nickname',
        'username',
        'contactName',
        'customerName',
        'cardHolderName',
      ],
    ],
    [
      'client IPs',
      [
        'ip',
        'IP',
        'ipAddress',
        'clientIp',
        'clientIPAddress',
        'remote_ip',
        'x-real-ip',
        'x-forwarded-for',
        'forwardedFor',
        'remoteAddress',
        'lastLoginIpV6',
        'clientIPv4',
      ],
    ],
  ])('encrypts %s', (_label, keys) => expect(protectedKeys(keys)).toEqual(keys));

  it.each([
    ['look-alike words', ['zip', 'ship', 'shipTo', 'tip', 'tooltip', 'description', 'recipe', 'vip']],
    ['non-person names', ['fileName', 'hostname', 'planName', 'resourceName', 'companyName', 'rename']],
    [
      'keys about a personal value',
      ['emailVerified', 'emailVerifiedAt', 'phoneVerified', 'isMobile', 'hasEmail', 'ipCount'],
    ],
  ])('leaves %s readable', (_label, keys) => expect(protectedKeys(keys)).toEqual([]));

  it('takes extraKeys on top of the defaults, and keys instead of them', () => {
    const resolve = (personalData: object) =>
      resolveAuditOptions({ personalData: { encryptionKey: KEK, ...personalData } }).personalData!.keys;
    const extended = resolve({ extraKeys: ['dateOfBirth', 'planName'] });
    expect(protectedKeys(['customerEmail', 'dateOfBirth', 'planName', 'zip'], extended)).toEqual([
      'customerEmail',
      'dateOfBirth',
      'planName',
    ]);
    const replaced = resolve({ keys: ['planName'], extraKeys: ['zip'] });
    expect(protectedKeys(['customerEmail', 'planName', 'zip'], replaced)).toEqual(['planName', 'zip']);
  });
});

describe('RevealTransform (exports)', () => {
  const key = Buffer.alloc(32, 8);
  const live = uuidToRef('01a20d1f-d94f-735f-869f-39e45a1e1fc1');
  const gone = uuidToRef('01a20d1f-d94f-735f-869f-39e45a1e1fc2');
  const tokenLive = encryptValue(key, live, 'ada@example.com');
  const tokenNumber = encryptValue(key, live, 7);
  const tokenGone = encryptValue(key, gone, 'bob@example.com');
  const fetch = async (refs: Iterable<string>) =>
    new Map([...refs].map((ref) => [ref, ref === live ? key : ERASED] as [string, Buffer | string]));

  async function run(format: 'ndjson' | 'csv', input: string, chunkSize: number): Promise<string> {
    const chunks: Buffer[] = [];
    const bytes = Buffer.from(input);
    for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
    let out = '';
    await pipeline(
      Readable.from(chunks),
      new RevealTransform(format, fetch as never),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          out += chunk.toString();
          done();
        },
      }),
    );
    return out;
  }

  it.each([1, 7, 64, 100_000])(
    'NDJSON: tokens become their JSON values, whatever the chunking (%i)',
    async (size) => {
      const input =
        JSON.stringify({ after: { email: tokenLive, n: tokenNumber }, ip: tokenLive }) +
        '\n' +
        JSON.stringify({ after: { email: tokenGone, plan: 'free' }, ip: null }) +
        '\n';
      const lines = (await run('ndjson', input, size))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines).toEqual([
        { after: { email: 'ada@example.com', n: 7 }, ip: 'ada@example.com' },
        { after: { email: '[erased]', plan: 'free' }, ip: null },
      ]);
    },
  );

  it.each([3, 50, 100_000])('CSV: quoted JSON cells and bare cells, quotes doubled (%i)', async (size) => {
    const json = (value: unknown) => `"${JSON.stringify(value).replaceAll('"', '""')}"`;
    const input =
      'id,ip,after\n' +
      `1,${tokenLive},${json({ email: tokenLive, note: 'say "hi"' })}\n` +
      `2,${tokenGone},${json({ email: tokenGone })}\n`;
    const out = await run('csv', input, size);
    expect(out).toBe(
      'id,ip,after\n' +
        `1,ada@example.com,${json({ email: 'ada@example.com', note: 'say "hi"' })}\n` +
        `2,[erased],${json({ email: '[erased]' })}\n`,
    );
  });
});
