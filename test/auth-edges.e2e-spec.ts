import { INestApplication } from '@nestjs/common';
import { SignJWT } from 'jose';
import request from 'supertest';
import { TEST_JWT_SECRET } from './support/env';
import { flushAudit, startTestApp, token } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';

const sign = (claims: Record<string, unknown>, build: (jwt: SignJWT) => SignJWT = (jwt) => jwt) =>
  build(new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt()).sign(
    new TextEncoder().encode(TEST_JWT_SECRET),
  );

/** The authorization edges of the hardening review, on the demo service (built-in JWT check). */
describe('authorization edges', () => {
  let db: TestDatabase;
  let app: INestApplication;
  const http = () => request(app.getHttpServer());

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('refuses a token without exp, on the admin API and on the demo routes', async () => {
    const forever = await sign({ sub: 'u1', org: 'org-a', roles: ['audit:read'] });
    await http().get('/audit/events').set('Authorization', `Bearer ${forever}`).expect(401);
    await http().get('/accounts').set('Authorization', `Bearer ${forever}`).expect(401);
    const expiring = await sign({ sub: 'u1', org: 'org-a', roles: ['audit:read'] }, (jwt) =>
      jwt.setExpirationTime('5m'),
    );
    await http().get('/audit/events').set('Authorization', `Bearer ${expiring}`).expect(200);
  });

  it('refuses identity claims with NUL or control characters with a 400 naming the claim, before any handler', async () => {
    for (const claims of [
      { sub: 'u\u00001', org: 'org-a' },
      { sub: 'u1', org: 'org\u0000a' },
      { sub: 'u1', org: 'org\u001ba' },
    ]) {
      const bad = await sign({ ...claims, roles: ['audit:read'] }, (jwt) => jwt.setExpirationTime('5m'));
      const res = await http().get('/audit/events').set('Authorization', `Bearer ${bad}`);
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body.message)).toMatch(/identity claim (sub|org)/);
      const created = await http()
        .post('/accounts')
        .set('Authorization', `Bearer ${bad}`)
        .send({ name: 'Eve', email: 'eve@example.com', plan: 'free', password: 'long-enough-1' });
      expect(created.status).toBe(400);
    }
    const { rows } = await db.sql.query(`SELECT count(*)::int AS n FROM accounts`);
    expect(rows[0].n).toBe(0);
  });

  it('keeps partitions and archives for the platform role; an organization admin gets 403', async () => {
    const orgAdmin = await token({ sub: 'oa', org: 'org-a', roles: ['audit:admin'] });
    const platform = await token({ sub: 'ops', roles: ['audit:platform'] });
    await http().get('/audit/partitions').set('Authorization', `Bearer ${orgAdmin}`).expect(403);
    await http().get('/audit/archives').set('Authorization', `Bearer ${orgAdmin}`).expect(403);
    await http().get('/audit/partitions').set('Authorization', `Bearer ${platform}`).expect(200);
    await http().get('/audit/archives').set('Authorization', `Bearer ${platform}`).expect(200);
  });

  it("answers 404 to an erasure for an organization with no events, and starts no chain for it", async () => {
    const admin = await token({ sub: 'root', org: 'org-empty', roles: ['audit:admin'] });
    await http().post('/audit/subjects/user:1/erase').set('Authorization', `Bearer ${admin}`).expect(404);
    await flushAudit(app);
    const { rows } = await db.sql.query(
      `SELECT count(*)::int AS n FROM audit_events WHERE organization_id = 'org-empty'`,
    );
    expect(rows[0].n).toBe(0); // no erasure event: its chain would have started with it
  });

  it('declares Bearer security on the demo routes in the OpenAPI document', async () => {
    const { body } = await http().get('/docs-json').expect(200);
    for (const [path, item] of Object.entries(body.paths as Record<string, Record<string, { security?: unknown[] }>>)) {
      if (!path.startsWith('/accounts')) continue;
      for (const operation of Object.values(item)) expect(operation.security).toEqual([{ bearer: [] }]);
    }
    expect(Object.keys(body.paths).filter((p) => p.startsWith('/accounts')).length).toBeGreaterThan(0);
  });
});
