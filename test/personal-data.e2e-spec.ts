import { INestApplication } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import request from 'supertest';
import { PersonalDataService } from 'src/audit';
import { SubjectKeyRepository } from 'src/audit/personal-data/subject-key.repository';
import { SubjectKeyring } from 'src/audit/personal-data/subject-keyring';
import { parseCsv } from './support/csv';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { flushAudit, startTestApp, token } from './support/test-app';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const EMAIL = 'grace.hopper.7731@example.org';
const NEW_EMAIL = 'g.hopper.7731@navy.example.org';
const NAME = 'Grace Brewster Hopper';

describe('Personal data: encrypted per subject, erased by destroying the key', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let alice: string; // org-a user
  let adminA: string;
  let adminB: string;
  let readerA: string;
  let accountId: string;
  let otherId: string;

  const http = () => request(app.getHttpServer());
  const history = async (id: string, bearer = adminA) => {
    await flushAudit(app);
    const res = await http()
      .get(`/audit/resources/account/${id}/history`)
      .set('Authorization', `Bearer ${bearer}`)
      .expect(200);
    return res.body.items as Json[];
  };
  const exportAll = async (format: 'ndjson' | 'csv') => {
    await flushAudit(app);
    const res = await http()
      .get('/audit/export')
      .query({ format, resourceType: 'account' })
      .set('Authorization', `Bearer ${adminA}`)
      .buffer(true)
      .parse((response, done) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => done(null, body));
      })
      .expect(200);
    return res.body as string;
  };
  const erase = (subjectId: string, bearer = adminA) =>
    http()
      .post(`/audit/subjects/${encodeURIComponent(subjectId)}/erase`)
      .set('Authorization', `Bearer ${bearer}`);

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url, { AUDIT_TRUSTED_PROXIES: 'loopback' });
    alice = await token({ sub: 'alice', org: 'org-a' });
    adminA = await token({ sub: 'admin-a', org: 'org-a', roles: ['audit:read', 'audit:admin'] });
    adminB = await token({ sub: 'admin-b', org: 'org-b', roles: ['audit:read', 'audit:admin'] });
    readerA = await token({ sub: 'reader-a', org: 'org-a', roles: ['audit:read'] });

    const created = await http()
      .post('/accounts')
      .set('Authorization', `Bearer ${alice}`)
      .set('X-Forwarded-For', '203.0.113.77')
      .send({ name: NAME, email: EMAIL, plan: 'free', password: 'Sup3r-Secret-Passw0rd-7731' })
      .expect(201);
    accountId = created.body.id;
    await http()
      .patch(`/accounts/${accountId}`)
      .set('Authorization', `Bearer ${alice}`)
      .send({ email: NEW_EMAIL, plan: 'pro' })
      .expect(200);
    const other = await http()
      .post('/accounts')
      .set('Authorization', `Bearer ${alice}`)
      .send({
        name: 'Other Person',
        email: 'other.person@example.org',
        plan: 'free',
        password: 'An0ther-Passw0rd-99',
      })
      .expect(201);
    otherId = other.body.id;
    await flushAudit(app);
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('stores personal values and the client IP only as ciphertext; everything else stays readable', async () => {
    const { rows } = await db.sql.query(
      `SELECT action, before::text AS before, after::text AS after, changes::text AS changes,
              metadata::text AS metadata, ip::text AS ip, resource_id
         FROM audit_events WHERE resource_type = 'account' AND resource_id = $1 ORDER BY occurred_at`,
      [accountId],
    );
    expect(rows.map((r) => r.action)).toEqual(['create', 'update']);
    const stored = JSON.stringify(rows);
    for (const plain of [EMAIL, NEW_EMAIL, NAME, '203.0.113.77']) expect(stored).not.toContain(plain);
    expect(rows[0].after).toMatch(/"email": "pii:v1:[A-Za-z0-9_-]{22}:/);
    expect(rows[0].after).toContain('"plan": "free"'); // not personal: searchable, readable
    expect(rows[1].changes).toContain('"path": "plan"');
    expect(rows.every((r) => r.ip === null)).toBe(true);
    const { rows: keys } = await db.sql.query(
      `SELECT subject_id, organization_id, wrapped_key IS NOT NULL AS live FROM audit_subject_keys ORDER BY subject_id`,
    );
    expect(keys).toEqual(
      expect.arrayContaining([
        { subject_id: `account:${accountId}`, organization_id: 'org-a', live: true },
        { subject_id: 'alice', organization_id: 'org-a', live: true },
      ]),
    );
  });

  it('reads back decrypted through the API: history, by id, list and exports', async () => {
    const steps = await history(accountId);
    expect(steps.map((e) => e.action)).toEqual(['create', 'update']);
    expect(steps[0].after).toMatchObject({ name: NAME, email: EMAIL, plan: 'free' });
    expect(steps[0].ip).toBe('203.0.113.77');
    expect(steps[0].metadata).toBeNull();
    expect(steps[1].changes).toEqual(
      expect.arrayContaining([
        { path: 'email', before: EMAIL, after: NEW_EMAIL },
        { path: 'plan', before: 'free', after: 'pro' },
      ]),
    );
    const byId = await http()
      .get(`/audit/events/${steps[1].id}`)
      .set('Authorization', `Bearer ${readerA}`)
      .expect(200);
    expect(byId.body.after.email).toBe(NEW_EMAIL);

    const ndjson = (await exportAll('ndjson'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Json);
    const exportedCreate = ndjson.find((e) => e.resourceId === accountId && e.action === 'create')!;
    expect(exportedCreate.after).toMatchObject({ name: NAME, email: EMAIL });
    expect(exportedCreate.ip).toBe('203.0.113.77');
    const csv = parseCsv(await exportAll('csv'));
    const header = csv[0];
    const row = csv.find(
      (r) => r[header.indexOf('resourceId')] === accountId && r[header.indexOf('action')] === 'update',
    )!;
    expect(JSON.parse(row[header.indexOf('after')])).toMatchObject({ email: NEW_EMAIL, plan: 'pro' });
  });

  it('checks the request: 401 without a token, 403 without audit:admin, 400 naming a bad subject id', async () => {
    await http().post(`/audit/subjects/account:${accountId}/erase`).expect(401);
    await erase(`account:${accountId}`, readerA).expect(403);
    const bad = await erase('bad\u0001subject').expect(400);
    expect(JSON.stringify(bad.body)).toContain('subjectId');
    await erase(`account:${accountId}`, adminA).query({ organizationId: 'org-b' }).expect(403);
  });

  it("another organization's admin erasing the same subject id destroys nothing of org-a", async () => {
    const res = await erase(`account:${accountId}`, adminB).expect(200);
    expect(res.body).toMatchObject({ organizationId: 'org-b', keysDestroyed: 0 });
    expect((await history(accountId))[0].after.email).toBe(EMAIL);
  });

  it('erasure: the values read as [erased] everywhere, the rest is intact, and the erasure is itself audited', async () => {
    const res = await erase(`account:${accountId}`).expect(200);
    expect(res.body).toMatchObject({
      organizationId: 'org-a',
      subjectId: `account:${accountId}`,
      keysDestroyed: 1,
    });
    expect(res.body.eventId).toEqual(expect.any(String));

    const steps = await history(accountId);
    expect(steps[0].after).toMatchObject({ name: '[erased]', email: '[erased]', plan: 'free' });
    expect(steps[1].changes).toEqual(
      expect.arrayContaining([
        { path: 'email', before: '[erased]', after: '[erased]' },
        { path: 'plan', before: 'free', after: 'pro' },
      ]),
    );
    // The IP belongs to the actor (alice), not to the account: it is still readable.
    expect(steps[0].ip).toBe('203.0.113.77');
    // Another subject of the same organization is untouched.
    expect((await history(otherId))[0].after.email).toBe('other.person@example.org');

    const ndjson = await exportAll('ndjson');
    const csv = await exportAll('csv');
    for (const text of [ndjson, csv]) {
      for (const plain of [EMAIL, NEW_EMAIL, NAME]) expect(text).not.toContain(plain);
      expect(text).toContain('[erased]');
      expect(text).toContain('other.person@example.org');
    }

    const erasure = await http()
      .get('/audit/events')
      .query({ action: 'erase' })
      .set('Authorization', `Bearer ${adminA}`)
      .expect(200);
    expect(erasure.body.items).toEqual([
      expect.objectContaining({
        id: res.body.eventId,
        actorId: 'admin-a',
        resourceType: 'subject',
        resourceId: `account:${accountId}`,
        metadata: { keysDestroyed: 1 },
      }),
    ]);
  });

  it('verification still passes after the erasure', async () => {
    const res = await http()
      .get('/audit/integrity/verify')
      .set('Authorization', `Bearer ${adminA}`)
      .expect(200);
    expect(res.body.firstBroken).toBeNull();
    expect(res.body.ok).toBe(true);
    expect(res.body.checkedEvents).toBeGreaterThanOrEqual(4);
  });

  it('leaves no plaintext of the subject in a database dump, once the application deleted its own row', async () => {
    await http().delete(`/accounts/${accountId}`).set('Authorization', `Bearer ${alice}`).expect(204);
    await flushAudit(app);
    await erase(`account:${accountId}`).expect(200); // the delete event's key too
    const dump = execFileSync('pg_dump', ['--data-only', db.url], {
      maxBuffer: 256 * 1024 * 1024,
    }).toString();
    expect(dump).toContain(accountId); // the trail is there...
    for (const plain of [EMAIL, NEW_EMAIL, NAME]) expect(dump).not.toContain(plain); // ...the person is not
    expect(dump).toContain('pii:v1:');
  });

  it('a key made before an erasure but stored after it (in flight in a buffer or stream) is stored destroyed', async () => {
    const keyring = new SubjectKeyring(Buffer.alloc(32, 7), 60_000);
    const inFlight = keyring.keyFor('org-a', 'late-subject', Date.now() - 1000).record;
    await app.get(PersonalDataService).erase('org-a', 'late-subject', 'admin-a');
    await SubjectKeyRepository.store(db.sql, [inFlight]);
    const fresh = keyring.keyFor('org-a', 'fresh-subject').record;
    await SubjectKeyRepository.store(db.sql, [fresh]);
    const { rows } = await db.sql.query(
      `SELECT subject_id, wrapped_key IS NULL AS destroyed, erased_at IS NOT NULL AS erased
         FROM audit_subject_keys WHERE subject_id IN ('late-subject', 'fresh-subject') ORDER BY subject_id`,
    );
    expect(rows).toEqual([
      { subject_id: 'fresh-subject', destroyed: false, erased: false },
      { subject_id: 'late-subject', destroyed: true, erased: true },
    ]);
  });
});
