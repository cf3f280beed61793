import { INestApplication } from '@nestjs/common';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { ArchiveService } from '../src/archive/archive.service';
import { AuditService } from '../src/audit';
import { Clock } from '../src/common/clock/clock';
import { parsePublicKey } from '../src/common/crypto/ed25519-keys';
import { verifyArchive } from '../src/integrity/archive-verifier';
import { CheckpointSigner } from '../src/integrity/checkpoint-signer';
import { keyIdOf } from '../src/integrity/checkpoint-statement';
import { maintainNow, monthStart } from './support/lifecycle';
import { waitForMaintenanceIdle } from './support/maintenance';
import request from 'supertest';
import { PersonalDataService } from '../src/audit';
import { SubjectKeyRepository } from '../src/audit/personal-data/subject-key.repository';
import { SubjectKeyring } from '../src/audit/personal-data/subject-keyring';
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
    // Transactional capture: the write's transaction id, and nothing personal.
    expect(steps[0].metadata).toEqual({ transactionId: expect.stringMatching(/^\d+$/) });
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
    // org-b has no events: 404, and no erasure event starts a chain for it.
    const res = await erase(`account:${accountId}`, adminB).expect(404);
    expect(res.body.message).toContain('org-b');
    expect((await history(accountId))[0].after.email).toBe(EMAIL);
    const { rows } = await db.sql.query(`SELECT count(*)::int AS n FROM audit_events WHERE organization_id = 'org-b'`);
    expect(rows[0].n).toBe(0);
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

describe('Personal data in cold archives', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'audit-archive-pii-'));
    app = await startTestApp(db.url, {
      ARCHIVE_URL: pathToFileURL(dir).href,
      ARCHIVE_HOT_DAYS: '1',
      ARCHIVE_WARM_DAYS: '20',
    });
    await waitForMaintenanceIdle(db);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('archives hold only ciphertext of personal data, and still verify offline after an erasure', async () => {
    const audit = app.get(AuditService);
    const start = monthStart(-14).getTime();
    for (let i = 0; i < 5; i++) {
      audit.record({
        action: 'update',
        resourceType: 'account',
        resourceId: 'p-1',
        actor: { id: 'alice', organizationId: 'org-a', type: 'user' },
        before: { email: EMAIL, name: NAME, plan: 'free' },
        after: { email: NEW_EMAIL, name: NAME, plan: `plan-${i}` },
        ip: '198.51.100.23',
        occurredAt: new Date(start + 3_600_000 + i * 60_000),
      });
    }
    expect(await audit.flush(10_000)).toBe(true);
    await maintainNow(app);
    app.get(Clock).set(new Date(monthStart(-12).getTime() + 86_400_000));
    const report = await app.get(ArchiveService).run();
    expect(report?.archived).toEqual([expect.objectContaining({ rows: 5 })]);
    const [archive] = (await app.get(ArchiveService).list()).filter((a) => a.state === 'cold');
    const dataFile = join(dir, archive.dataKey);
    const rows = gunzipSync(readFileSync(dataFile)).toString('utf8');
    for (const plain of [EMAIL, NEW_EMAIL, NAME, '198.51.100.23']) expect(rows).not.toContain(plain);
    expect(rows).toContain('plan-4');
    expect(rows.match(/pii:v1:/g)!.length).toBeGreaterThanOrEqual(5 * 4);

    await app.get(PersonalDataService).erase('org-a', 'account:p-1', 'admin-a');
    const publicKey = parsePublicKey(app.get(CheckpointSigner).describe()[0].publicKeyPem);
    const manifest = readFileSync(join(dir, archive.manifestKey), 'utf8');
    const result = await verifyArchive(dataFile, manifest, new Map([[keyIdOf(publicKey), publicKey]]));
    expect(result).toMatchObject({ ok: true, checkedEvents: 5, firstBroken: null });
  });
});

describe('Personal data in redis delivery: keys travel wrapped through the stream', () => {
  const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const streamKey = `audit-test:pii:${randomBytes(6).toString('hex')}`;
  let db: TestDatabase;
  let redis: Redis;
  const apps: INestApplication[] = [];
  const start = async (consumers: number) => {
    const app = await startTestApp(db.url, {
      AUDIT_DELIVERY: 'redis',
      REDIS_URL,
      AUDIT_STREAM_KEY: streamKey,
      AUDIT_STREAM_CONSUMERS: String(consumers),
    });
    apps.push(app);
    return app;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await redis.del(streamKey, `${streamKey}:dead`);
    redis.disconnect();
    await db?.drop();
  });

  it('the stream holds ciphertext and wrapped keys only; a consumer elsewhere stores the keys with the events', async () => {
    const producer = await start(0); // an API process that only appends to the stream
    const audit = producer.get(AuditService);
    for (let i = 0; i < 3; i++) {
      const event = await audit.recordDurable({
        action: 'update',
        resourceType: 'account',
        resourceId: 'r-1',
        actor: { id: 'alice', organizationId: 'org-a', type: 'user' },
        before: { email: EMAIL, plan: 'free' },
        after: { email: NEW_EMAIL, plan: `plan-${i}` },
      });
      expect(event).not.toBeNull();
    }
    const entries = await redis.xrange(streamKey, '-', '+');
    expect(entries).toHaveLength(3);
    const raw = JSON.stringify(entries);
    for (const plain of [EMAIL, NEW_EMAIL]) expect(raw).not.toContain(plain);
    const first = JSON.parse(entries[0][1][1]) as unknown[];
    expect(first[9]).toEqual([expect.arrayContaining(['account:r-1', expect.any(String)])]);

    const consumer = await start(2); // the flush workers, in another process in production
    await flushAudit(consumer);
    const reader = await token({ sub: 'reader', org: 'org-a', roles: ['audit:read'] });
    const res = await request(consumer.getHttpServer())
      .get('/audit/resources/account/r-1/history')
      .set('Authorization', `Bearer ${reader}`)
      .expect(200);
    expect(res.body.items.map((e: Json) => e.after)).toEqual([
      { email: NEW_EMAIL, plan: 'plan-0' },
      { email: NEW_EMAIL, plan: 'plan-1' },
      { email: NEW_EMAIL, plan: 'plan-2' },
    ]);
  });
});
