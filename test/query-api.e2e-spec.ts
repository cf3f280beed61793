import { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import request from 'supertest';
import { AuditService, RecordAuditEventInput } from '../src/audit';
import { StatsRefreshJob } from '../src/query/stats-refresh.job';
import { parseCsv } from './support/csv';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { startTestApp, token } from './support/test-app';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
const DAY = 24 * 3600 * 1000;

describe('admin query API', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let audit: AuditService;
  const cachePrefix = `audit-test:${randomBytes(4).toString('hex')}:`;
  const tokens: Record<string, string> = {};
  const http = () => request(app.getHttpServer());
  const as = (who: string) => ({ Authorization: `Bearer ${tokens[who]}` });
  const record = (org: string, input: Partial<RecordAuditEventInput> = {}) =>
    audit.record({
      action: 'update',
      resourceType: 'invoice',
      resourceId: 'inv-1',
      actor: { id: 'u1', organizationId: org },
      ...input,
    })!;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url, {
      REDIS_URL: 'redis://127.0.0.1:6379/0',
      AUDIT_CACHE_PREFIX: cachePrefix,
    });
    audit = app.get(AuditService);
    tokens.a = await token({ sub: 'auditor-a', org: 'org-a', roles: ['audit:read'] });
    tokens.b = await token({ sub: 'auditor-b', org: 'org-b', roles: ['audit:read'] });
    tokens.all = await token({ sub: 'root', org: 'org-ops', roles: ['audit:read:all'] });
    tokens.none = await token({ sub: 'user', org: 'org-a', roles: [] });

    const now = Date.now();
    // org-a: a resource with three versions, other actors and types, a failure, a critical event, old events.
    record('org-a', {
      action: 'create',
      resourceId: 'inv-1',
      after: { total: 10, customer: 'Globex' },
      occurredAt: new Date(now - 3 * DAY),
    });
    record('org-a', { before: { total: 10 }, after: { total: 20 }, occurredAt: new Date(now - 2 * DAY) });
    record('org-a', { before: { total: 20 }, after: { total: 30 }, occurredAt: new Date(now - DAY) });
    record('org-a', {
      actor: { id: 'u2', organizationId: 'org-a' },
      resourceType: 'customer',
      resourceId: 'c-9',
      after: { company: 'Initech' },
    });
    record('org-a', {
      action: 'delete',
      resourceId: 'inv-2',
      status: 'failure',
      errorMessage: 'locked',
      severity: 'critical',
    });
    record('org-a', {
      action: 'login',
      resourceType: undefined,
      resourceId: undefined,
      eventType: 'auth.login',
      occurredAt: new Date(now - 120 * DAY),
    });
    // org-b: same resource ids, different tenant.
    record('org-b', { after: { total: 999, customer: 'Secret Corp' } });
    record('org-b', { resourceId: 'inv-b', before: { total: 1 }, after: { total: 2 } });
    await audit.flush();
  });
  afterAll(async () => {
    const redis = new Redis('redis://127.0.0.1:6379/0');
    const keys = await redis.keys(`${cachePrefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await app?.close();
    await db?.drop();
  });

  const list = async (query: Json, who = 'a') =>
    (await http().get('/audit/events').query(query).set(as(who)).expect(200)).body as {
      items: Json[];
      nextCursor: string | null;
    };

  describe('GET /audit/events filters', () => {
    it.each([
      [{ actorId: 'u2' }, (e: Json) => e.actorId === 'u2', 1],
      [{ resourceType: 'customer' }, (e: Json) => e.resourceType === 'customer', 1],
      [{ resourceType: 'invoice', resourceId: 'inv-1' }, (e: Json) => e.resourceId === 'inv-1', 3],
      [{ action: 'delete' }, (e: Json) => e.action === 'delete', 1],
      [{ eventType: 'auth.login' }, (e: Json) => e.eventType === 'auth.login', 1],
      [{ status: 'failure' }, (e: Json) => e.status === 'failure', 1],
      [{ severity: 'critical' }, (e: Json) => e.severity === 'critical', 1],
      [{ q: 'Initech' }, (e: Json) => e.after?.company === 'Initech', 1],
      [{ q: 'globex' }, (e: Json) => e.after?.customer === 'Globex', 1],
    ])('%j', async (query, matches, expected) => {
      const { items } = await list(query);
      const own = items.filter((e) => !String(e.resourceType).startsWith('audit-'));
      expect(own.length).toBe(expected);
      expect(own.every(matches)).toBe(true);
      expect(items.every((e) => e.organizationId === 'org-a')).toBe(true);
    });

    it('filters a time range [from, to) and prunes to it', async () => {
      const from = new Date(Date.now() - 2.5 * DAY).toISOString();
      const to = new Date(Date.now() - 0.5 * DAY).toISOString();
      const { items } = await list({ from, to });
      expect(items.map((e) => e.after?.total)).toEqual([30, 20]);
    });

    it("full-text search does not find another tenant's data", async () => {
      expect((await list({ q: 'Secret' })).items).toHaveLength(0);
      expect((await list({ q: 'Secret' }, 'b')).items).toHaveLength(1);
    });
  });

  it('pages over more than three pages without gaps or duplicates while new events arrive', async () => {
    for (let i = 0; i < 40; i++)
      record('org-a', {
        resourceType: 'ticket',
        resourceId: `t-${i}`,
        occurredAt: new Date(Date.now() - 60_000 + i),
      });
    await audit.flush();
    const expected = (await list({ resourceType: 'ticket', limit: 1000 })).items.map((e) => e.id);
    expect(expected).toHaveLength(40);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await list({ resourceType: 'ticket', limit: 7, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor;
      pages++;
      record('org-a', { resourceType: 'ticket', resourceId: `new-${pages}` }); // newer than the first page
      await audit.flush();
    } while (cursor);
    expect(pages).toBeGreaterThan(3);
    expect(seen).toEqual(expected);
  });

  describe('by id, history, activity', () => {
    it("returns one event by id; another org's id is a 404, a malformed id a 400", async () => {
      const [event] = (await list({ resourceId: 'inv-1', action: 'create' })).items;
      const res = await http().get(`/audit/events/${event.id}`).set(as('a')).expect(200);
      expect(res.body).toMatchObject({ id: event.id, action: 'create', organizationId: 'org-a' });
      const b404 = await http().get(`/audit/events/${event.id}`).set(as('b')).expect(404);
      expect(JSON.stringify(b404.body)).not.toContain('Globex');
      await http().get(`/audit/events/${event.id}`).set(as('all')).expect(200);
      const bad = await http().get('/audit/events/not-a-uuid').set(as('a')).expect(400);
      expect(bad.body.message.join(' ')).toMatch(/id/);
    });

    it('lists a resource history oldest first with each diff, only within the tenant', async () => {
      const res = await http().get('/audit/resources/invoice/inv-1/history').set(as('a')).expect(200);
      expect(res.body.items.map((e: Json) => e.action)).toEqual(['create', 'update', 'update']);
      expect(res.body.items[2].changes).toEqual([{ path: 'total', before: 20, after: 30 }]);
      const forB = await http().get('/audit/resources/invoice/inv-1/history').set(as('b')).expect(200);
      expect(forB.body.items.every((e: Json) => e.organizationId === 'org-b')).toBe(true);
      const paged = await http()
        .get('/audit/resources/invoice/inv-1/history')
        .query({ limit: 2 })
        .set(as('a'))
        .expect(200);
      const next = await http()
        .get('/audit/resources/invoice/inv-1/history')
        .query({ limit: 2, cursor: paged.body.nextCursor })
        .set(as('a'))
        .expect(200);
      expect([...paged.body.items, ...next.body.items].map((e: Json) => e.id)).toEqual(
        res.body.items.map((e: Json) => e.id),
      );
    });

    it("pages an actor's activity with filters", async () => {
      const res = await http().get('/audit/actors/u2/activity').set(as('a')).expect(200);
      expect(res.body.items).toHaveLength(1);
      expect(res.body.items[0].resourceId).toBe('c-9');
      expect(
        (await http().get('/audit/actors/u2/activity').set(as('b')).expect(200)).body.items,
      ).toHaveLength(0);
    });

    it('records reads of the trail as access events', async () => {
      await http().get('/audit/resources/invoice/inv-1/history').set(as('a')).expect(200);
      await audit.flush();
      const { items } = await list({ resourceType: 'audit-history' });
      expect(items[0]).toMatchObject({ action: 'read', actorId: 'auditor-a', resourceId: 'inv-1' });
    });
  });

  describe('auth and validation', () => {
    it.each([
      ['/audit/events'],
      ['/audit/export'],
      ['/audit/stats'],
      ['/audit/resources/invoice/inv-1/history'],
      ['/audit/actors/u1/activity'],
    ])('%s: 401 without or with a bad token, 403 without a role', async (path) => {
      await http().get(path).expect(401);
      await http().get(path).set('Authorization', 'Bearer x.y.z').expect(401);
      const forged = await token(
        { sub: 'eve', org: 'org-a', roles: ['audit:read:all'] },
        'another-secret-another-secret-another-secret',
      );
      await http().get(path).set('Authorization', `Bearer ${forged}`).expect(401);
      await http().get(path).set(as('none')).expect(403);
    });

    it.each([
      [{ from: 'yesterday' }, 'from'],
      [{ to: '2026-13-45' }, 'to'],
      [{ from: '2026-11-10T00:00:00Z', to: '2026-11-01T00:00:00Z' }, 'from'],
      [{ limit: 0 }, 'limit'],
      [{ limit: 1001 }, 'limit'],
      [{ limit: 'ten' }, 'limit'],
      [{ severity: 'fatal' }, 'severity'],
      [{ status: 'ok' }, 'status'],
      [{ action: 'DROP TABLE' }, 'action'],
      [{ bogus: 1 }, 'bogus'],
      [{ cursor: 'garbage' }, 'cursor'],
      [{ q: '' }, 'q'],
    ])('%j is a 400 naming %s', async (query, field) => {
      const res = await http().get('/audit/events').query(query).set(as('a')).expect(400);
      expect(res.body.message.join(' ')).toContain(field);
    });

    it('rejects bad stats and export parameters with a 400 naming the field', async () => {
      expect(
        (
          await http().get('/audit/stats').query({ groupBy: 'week' }).set(as('a')).expect(400)
        ).body.message.join(' '),
      ).toContain('groupBy');
      expect(
        (
          await http().get('/audit/export').query({ format: 'xml' }).set(as('a')).expect(400)
        ).body.message.join(' '),
      ).toContain('format');
    });

    it('a read:all token may filter by organization; a read token may not', async () => {
      const { items } = await list({ organizationId: 'org-b' }, 'all');
      expect(items.length).toBeGreaterThan(0);
      expect(items.every((e) => e.organizationId === 'org-b')).toBe(true);
      await http().get('/audit/events').query({ organizationId: 'org-b' }).set(as('a')).expect(403);
    });

    it('serves OpenAPI at /docs-json with every admin endpoint', async () => {
      const res = await http().get('/docs-json').expect(200);
      expect(Object.keys(res.body.paths)).toEqual(
        expect.arrayContaining([
          '/audit/events',
          '/audit/events/{id}',
          '/audit/export',
          '/audit/resources/{type}/{id}/history',
          '/audit/actors/{id}/activity',
          '/audit/stats',
          '/audit/subjects/{subjectId}/erase',
        ]),
      );
      const params = res.body.paths['/audit/events'].get.parameters.map((p: Json) => p.name);
      expect(params).toEqual(expect.arrayContaining(['q', 'from', 'to', 'cursor', 'limit', 'severity']));
    });
  });

  describe('stats', () => {
    it('reads the materialized views, per tenant, with their freshness', async () => {
      await audit.flush();
      await app.get(StatsRefreshJob).run();
      // What the views must say: the events as they were at the refresh (read before any new access event).
      const { rows: expectedB } = await db.sql.query(
        `SELECT count(*)::int AS events, count(DISTINCT actor_id)::int AS actors FROM audit_events
          WHERE organization_id = 'org-b' AND occurred_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`,
      );
      const res = await http().get('/audit/stats').query({ groupBy: 'action' }).set(as('a')).expect(200);
      const byAction = Object.fromEntries(res.body.items.map((r: Json) => [r.key, r]));
      expect(byAction.create.events).toBe(1);
      expect(byAction.delete).toMatchObject({ events: 1, failures: 1 });
      expect(res.body.refreshedAt).toBeTruthy();
      expect(res.body.stalenessSeconds).toBeGreaterThanOrEqual(0);
      const forB = await http()
        .get('/audit/stats')
        .query({ groupBy: 'organization' })
        .set(as('b'))
        .expect(200);
      expect(forB.body.items.map((r: Json) => r.key)).toEqual(['org-b']);
      const daily = await http().get('/audit/stats').set(as('b')).expect(200);
      expect(daily.body.items.at(-1)).toMatchObject({
        events: expectedB[0].events,
        distinctActors: expectedB[0].actors,
      });
    });
  });

  describe('export', () => {
    const download = (query: string, who = 'a') =>
      new Promise<{ status: number; body: string; type: string }>((resolve, reject) => {
        const { port } = (app.getHttpServer().address() as AddressInfo) ?? {};
        get(`http://127.0.0.1:${port}/audit/export?${query}`, { headers: as(who) }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (chunk) => (body += chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode!, body, type: String(res.headers['content-type']) }),
          );
        }).on('error', reject);
      });

    beforeAll(async () => {
      await app.listen(0, '127.0.0.1');
    });

    it('streams NDJSON for the tenant only and records the export', async () => {
      const res = await download('resourceType=invoice');
      expect(res.status).toBe(200);
      expect(res.type).toContain('application/x-ndjson');
      const lines = res.body
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.length).toBeGreaterThan(2);
      expect(lines.every((e) => e.organizationId === 'org-a' && e.resourceType === 'invoice')).toBe(true);
      expect(res.body).not.toContain('Secret Corp');
      await audit.flush();
      const [exported] = (await list({ action: 'export' })).items;
      expect(exported).toMatchObject({
        actorId: 'auditor-a',
        status: 'success',
        resourceType: 'audit-event',
      });
      expect(exported.metadata).toMatchObject({ format: 'ndjson', rows: lines.length });
    });

    it('streams CSV with a header row and correct quoting', async () => {
      const after = { text: 'a "quoted", multi\nline text' };
      record('org-a', { resourceType: 'note', resourceId: 'n-1', after });
      record('org-a', {
        resourceType: 'note',
        resourceId: 'n-2',
        status: 'failure',
        errorMessage: 'line one, "two"\nline three',
      });
      await audit.flush();
      const res = await download('format=csv&resourceType=note');
      expect(res.type).toContain('text/csv');
      const [header, ...rows] = parseCsv(res.body);
      expect(header.slice(0, 3)).toEqual(['id', 'occurredAt', 'organizationId']);
      const byId = Object.fromEntries(
        rows.map((cells) => [
          cells[header.indexOf('resourceId')],
          Object.fromEntries(header.map((h, i) => [h, cells[i]])),
        ]),
      );
      expect(rows).toHaveLength(2);
      expect(JSON.parse(byId['n-1'].after)).toEqual(after);
      expect(byId['n-1'].before).toBe(''); // NULL
      expect(byId['n-2'].errorMessage).toBe('line one, "two"\nline three');
      expect(new Date(byId['n-2'].occurredAt).toISOString()).toBe(byId['n-2'].occurredAt);
      await audit.flush();
      const [exported] = (await list({ action: 'export' })).items;
      expect(exported.metadata).toMatchObject({ format: 'csv', rows: 2 });
    });
  });

  describe('Redis cache', () => {
    it('serves first pages from the cache and invalidates them when the tenant gets new events', async () => {
      const first = await list({ resourceType: 'cached' });
      expect(first.items).toHaveLength(0);
      // Same query again: now cached. A direct insert bypasses the writer, so the cache cannot know.
      await db.sql.query(
        `INSERT INTO audit_events (id, occurred_at, organization_id, actor_type, action, event_type, resource_type, status, severity)
         VALUES (gen_random_uuid(), now(), 'org-a', 'system', 'create', 'cached.create', 'cached', 'success', 'info')`,
      );
      expect((await list({ resourceType: 'cached' })).items).toHaveLength(0); // stale, from the cache
      record('org-a', { resourceType: 'cached', action: 'create' }); // through the pipeline: invalidates org-a
      await audit.flush();
      await new Promise((r) => setTimeout(r, 50));
      expect((await list({ resourceType: 'cached' })).items).toHaveLength(2);
      const redis = new Redis('redis://127.0.0.1:6379/0');
      expect(await redis.keys(`${cachePrefix}data:*`)).not.toHaveLength(0);
      redis.disconnect();
    });
  });
});
