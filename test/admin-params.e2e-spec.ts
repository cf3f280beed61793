import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { startTestApp, token } from './support/test-app';

/**
 * Parameters that once answered 500 (or reset the export's connection): each class of input is a 400
 * naming the field, or an ordinary answer; never a 5xx.
 */
describe('admin API parameters', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let auth: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url);
    auth = `Bearer ${await token({
      sub: 'root',
      org: 'org-a',
      roles: ['audit:read', 'audit:read:all', 'audit:admin', 'audit:platform'],
    })}`;
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const send = (method: 'get' | 'post', path: string) =>
    request(app.getHttpServer())[method](path).set('Authorization', auth);

  const TIME_ENDPOINTS = [
    '/audit/events',
    '/audit/actors/u1/activity',
    '/audit/stats',
    '/audit/integrity/verify',
    '/audit/export',
  ];
  // ISO 8601 forms Date cannot read (week, ordinal, basic), impossible fields, and years out of range.
  const BAD_TIMES = [
    '2026-W01',
    '2026-305',
    '20261101',
    '2026-11-01T25:00',
    '2026-02-30',
    '0000-01-01',
    '1969-12-31T23:59:59Z',
    '275761-01-01',
    '+275760-09-13T00:00:00Z',
    '9999-12-31T23:00:00-02:00',
  ];

  describe.each(TIME_ENDPOINTS)('%s', (path) => {
    it.each(
      BAD_TIMES.flatMap((value) => [
        ['from', value],
        ['to', value],
      ]),
    )('%s=%s is a 400 naming the field', async (field, value) => {
      const res = await send('get', path).query({ [field]: value });
      expect(res.status).toBe(400);
      expect(res.body.message.join(' ')).toContain(field);
    });

    it.each([
      '2026-11-01',
      '2026-11-01T10:00',
      '2026-11-01T10:00:00.123456Z',
      '2026-11-01T10:00:00+14:00',
      '9999-12-31',
    ])('from=%s is read', async (value) => {
      const res = await send('get', path).query({ from: value });
      expect(res.status).toBe(200);
    });
  });

  // NUL (Postgres: 22021) and the other control characters, in every text query value, and over-long values.
  const BAD_TEXT = ['a\u0000b', '\u0000', 'tab\t', 'nl\n', '\u007f', 'x'.repeat(513)];
  const TEXT_PARAMS: Array<[string, string]> = [
    ['/audit/events', 'organizationId'],
    ['/audit/events', 'actorId'],
    ['/audit/events', 'resourceType'],
    ['/audit/events', 'resourceId'],
    ['/audit/events', 'q'],
    ['/audit/events', 'cursor'],
    ['/audit/actors/u1/activity', 'resourceId'],
    ['/audit/resources/account/1/history', 'cursor'],
    ['/audit/stats', 'organizationId'],
    ['/audit/integrity/verify', 'organizationId'],
    ['/audit/export', 'actorId'],
    ['/audit/export?format=csv', 'q'],
  ];
  it.each(TEXT_PARAMS.flatMap(([path, field]) => BAD_TEXT.map((value) => [path, field, value])))(
    '%s %s=%j is a 400 naming the field',
    async (path, field, value) => {
      const res = await send('get', path).query({ [field]: value });
      expect(res.status).toBe(400);
      expect(res.body.message.join(' ')).toContain(field);
    },
  );

  it.each([
    ['get', '/audit/resources/a%00b/1/history', 'type'],
    ['get', '/audit/resources/account/1%00/history', 'id'],
    ['get', '/audit/actors/%00/activity', 'id'],
    ['get', '/audit/actors/a%0Ab/activity', 'id'],
    ['get', `/audit/actors/${'x'.repeat(257)}/activity`, 'id'],
    ['post', '/audit/subjects/a%00b/erase', 'subjectId'],
    ['post', '/audit/subjects/account:1/erase?organizationId=%00', 'organizationId'],
  ] as const)('%s %s is a 400 naming %s', async (method, path, field) => {
    const res = await send(method, path);
    expect(res.status).toBe(400);
    expect(res.body.message.join(' ')).toContain(field);
  });

  it.each([
    '1e2',
    '0x10',
    '-1',
    '0',
    '1001',
    '99999999999999999999',
    '1e400',
    '9007199254740993',
    ' 5',
    '5.0',
  ])('limit=%s is a 400 naming limit', async (value) => {
    for (const path of ['/audit/events', '/audit/resources/account/1/history', '/audit/actors/u1/activity']) {
      const res = await send('get', path).query({ limit: value });
      expect(res.status).toBe(400);
      expect(res.body.message.join(' ')).toContain('limit');
    }
  });

  it.each([
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
    'ffffffff-ffff-7fff-bfff-ffffffffffff',
    'e8d4a510-0000-4000-8000-000000000000',
  ])('an event id whose UUIDv7 time no event can have (%s) is a 404', async (id) => {
    const res = await send('get', `/audit/events/${id}`);
    expect(res.status).toBe(404);
  });

  it('an event id that is no UUID is a 400 naming id', async () => {
    const res = await send('get', '/audit/events/0000%00');
    expect(res.status).toBe(400);
    expect(res.body.message.join(' ')).toContain('id');
  });
});
