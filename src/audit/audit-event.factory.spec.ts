import { validate as isUuid, version as uuidVersion } from 'uuid';
import { buildAuditEvent, EventDraft } from './audit-event.factory';
import { DEFAULT_REDACT_KEYS, RedactionRules } from './redaction';
import { AuditEvent } from './audit.types';
import { REDACTED } from '../common/serialization/safe-serialize';

const MAX_STATE_BYTES = 64 * 1024;
const rules = RedactionRules.fromKeys(DEFAULT_REDACT_KEYS);

const draft = (overrides: Partial<EventDraft> = {}): EventDraft => ({
  action: 'create',
  actor: { id: 'user-1', type: 'user', organizationId: 'org-1' },
  resourceType: 'account',
  resourceId: 'acc-1',
  status: 'success',
  severity: 'info',
  rules,
  ...overrides,
});

const build = (overrides: Partial<EventDraft> = {}) => buildAuditEvent(draft(overrides), MAX_STATE_BYTES);
const built = (overrides: Partial<EventDraft> = {}): AuditEvent => {
  const event = build(overrides);
  if (!event) throw new Error('expected an event, got null');
  return event;
};

const account = { id: 'acc-1', name: 'Acme', plan: 'free', passwordHash: '$argon2id$secret-hash' };

describe('buildAuditEvent', () => {
  describe('create', () => {
    it('records the redacted after state and no diff', () => {
      const event = built({ after: account });
      expect(event.before).toBeNull();
      expect(event.after).toEqual({ ...account, passwordHash: REDACTED });
      expect(event.changes).toBeNull();
      expect(JSON.stringify(event)).not.toContain('secret-hash');
    });

    it('fills in the event context', () => {
      const at = new Date('2026-03-01T12:00:00.000Z');
      expect(
        built({ after: account, occurredAt: at, requestId: 'req-1', statusCode: 201, durationMs: 12.6 }),
      ).toMatchObject({
        occurredAt: at,
        organizationId: 'org-1',
        actorId: 'user-1',
        actorType: 'user',
        action: 'create',
        resourceType: 'account',
        resourceId: 'acc-1',
        status: 'success',
        statusCode: 201,
        requestId: 'req-1',
        durationMs: 13,
        metadata: null,
      });
    });

    it('stamps the event with a fresh UUIDv7 and the current time by default', () => {
      const start = Date.now();
      const first = built();
      const second = built();
      expect(isUuid(first.id)).toBe(true);
      expect(uuidVersion(first.id)).toBe(7);
      expect(second.id).not.toBe(first.id);
      expect(first.occurredAt.getTime()).toBeGreaterThanOrEqual(start);
      expect(first.occurredAt.getTime()).toBeLessThanOrEqual(Date.now());
    });
  });

  describe('eventType', () => {
    it('defaults to `${resourceType}.${action}`', () => {
      expect(built({ action: 'delete' }).eventType).toBe('account.delete');
    });

    it('is the action alone without a resource type', () => {
      expect(built({ action: 'login', resourceType: null, resourceId: null }).eventType).toBe('login');
    });

    it('keeps an explicit event type', () => {
      expect(built({ action: 'update', eventType: 'account.plan_changed' }).eventType).toBe(
        'account.plan_changed',
      );
    });
  });

  describe('update', () => {
    const update = (after: unknown, overrides: Partial<EventDraft> = {}) =>
      build({ action: 'update', diff: true, before: account, after, ...overrides });

    it('records the changed fields', () => {
      expect(update({ ...account, plan: 'pro' })?.changes).toEqual([
        { path: 'plan', before: 'free', after: 'pro' },
      ]);
    });

    it('returns null when nothing changed', () => {
      expect(update({ ...account })).toBeNull();
    });

    it('keeps an update that changed nothing when no-ops are recorded', () => {
      const event = update({ ...account }, { recordNoOps: true });
      expect(event).not.toBeNull();
      expect(event?.changes).toEqual([]);
    });

    it('reports a changed secret as redacted, without its values', () => {
      const event = update({ ...account, passwordHash: '$argon2id$new-hash' });
      expect(event?.changes).toEqual([
        { path: 'passwordHash', before: REDACTED, after: REDACTED, redacted: true },
      ]);
      expect(JSON.stringify(event)).not.toMatch(/secret-hash|new-hash/);
    });

    it('compares only the fields a handler returned when the after state is partial', () => {
      expect(update({ plan: 'pro' }, { partialAfter: true })?.changes).toEqual([
        { path: 'plan', before: 'free', after: 'pro' },
      ]);
      expect(update({ plan: 'free' }, { partialAfter: true })).toBeNull();
    });

    it('records a failed update without a diff', () => {
      const event = update(undefined, { status: 'failure', statusCode: 409, errorMessage: 'Conflict' });
      expect(event).not.toBeNull();
      expect(event?.changes).toBeNull();
      expect(event?.status).toBe('failure');
    });
  });

  describe('normalization', () => {
    it.each(['203.0.113.7', '::1', '2001:db8::1'])('keeps the valid IP %s', (ip) => {
      expect(built({ ip }).ip).toBe(ip);
    });

    it.each(['not-an-ip', '203.0.113.7, 10.0.0.1', '999.1.1.1', ''])('drops the invalid IP %j', (ip) => {
      expect(built({ ip }).ip).toBeNull();
    });

    it('drops an IPv6 address with a zone index, which Postgres inet rejects', () => {
      expect(built({ ip: 'fe80::1%eth0' }).ip).not.toBe('fe80::1%eth0');
    });

    it('clips a long user agent to 512 characters plus an ellipsis', () => {
      const userAgent = built({ userAgent: 'Mozilla/5.0 '.repeat(500) }).userAgent;
      expect(userAgent).toHaveLength(513);
      expect(userAgent?.endsWith('…')).toBe(true);
      expect(built({ userAgent: 'curl/8.5.0' }).userAgent).toBe('curl/8.5.0');
    });

    it('clips a long error message', () => {
      const errorMessage = built({ status: 'failure', errorMessage: 'x'.repeat(10_000) }).errorMessage;
      expect(errorMessage).toHaveLength(2049);
      expect(errorMessage?.endsWith('…')).toBe(true);
    });

    it('redacts the metadata like the states', () => {
      expect(built({ metadata: { apiKey: 'k-123', source: 'import' } }).metadata).toEqual({
        apiKey: REDACTED,
        source: 'import',
      });
    });

    it('redacts before, after and metadata with the paths of the draft rules', () => {
      const event = built({
        action: 'update',
        before: { profile: { nickname: 'old' } },
        after: { profile: { nickname: 'new' } },
        metadata: { profile: { nickname: 'meta' } },
        rules: rules.withPaths(['profile.nickname']),
      });
      expect(event.before).toEqual({ profile: { nickname: REDACTED } });
      expect(event.after).toEqual({ profile: { nickname: REDACTED } });
      expect(event.metadata).toEqual({ profile: { nickname: REDACTED } });
    });
  });

  describe('strings Postgres refuses (NUL, lone surrogates)', () => {
    const storable = (text: string | null) =>
      text === null ||
      // eslint-disable-next-line no-control-regex -- NUL is what it looks for
      !/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);

    it('replaces them with U+FFFD in every text field, the actor, states, diff and metadata', () => {
      const bad = 'x\u0000\ud800y';
      const event = built({
        action: `custom${bad}`,
        eventType: `thing.${bad}`,
        actor: { id: bad, type: 'user', organizationId: bad },
        resourceType: bad,
        resourceId: bad,
        before: { title: 'old' },
        after: { title: bad, [bad]: 1 },
        diff: true,
        errorMessage: bad,
        requestId: bad,
        userAgent: bad,
        route: bad,
        method: bad,
        metadata: { [bad]: [bad] },
      });
      for (const value of Object.values(event))
        if (typeof value === 'string') expect(storable(value)).toBe(true);
      expect(event.actorId).toBe('x\ufffd\ufffdy');
      expect(JSON.stringify([event.after, event.changes, event.metadata])).not.toMatch(/\\u(0000|d[89a-f])/i);
      expect(event.changes).toContainEqual({ path: 'title', before: 'old', after: 'x\ufffd\ufffdy' });
    });

    it('never leaves half a surrogate pair where a long field is cut', () => {
      const event = built({ userAgent: 'a'.repeat(511) + '😀😀' });
      expect(storable(event.userAgent)).toBe(true);
    });
  });
});
