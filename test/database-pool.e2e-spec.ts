import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { startTestApp, token } from './support/test-app';

/** The app's connections to its database after a burst of parallel reads (idle ones stay pooled). */
async function connectionsAfterBurst(db: TestDatabase, env: Record<string, string>): Promise<number> {
  const app: INestApplication = await startTestApp(db.url, { AUDIT_DISABLED: 'true', ...env });
  try {
    const bearer = await token({ sub: 'pool-user', org: 'org-pool' });
    const created = await request(app.getHttpServer())
      .post('/accounts')
      .set('Authorization', `Bearer ${bearer}`)
      .send({ name: 'Pool', email: 'pool@example.com', plan: 'free', password: 'Pool-Passw0rd-1234' })
      .expect(201);
    await Promise.all(
      Array.from({ length: 40 }, () =>
        request(app.getHttpServer())
          .get(`/accounts/${created.body.id}`)
          .set('Authorization', `Bearer ${bearer}`)
          .expect(200),
      ),
    );
    const { rows } = await db.sql.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'nest-audit-trail'`,
    );
    return Number(rows[0].n);
  } finally {
    await app.close();
  }
}

describe('DATABASE_POOL_MAX', () => {
  let capped: TestDatabase;
  let uncapped: TestDatabase;

  beforeAll(async () => {
    [capped, uncapped] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  });

  afterAll(async () => {
    await Promise.all([capped?.drop(), uncapped?.drop()]);
  });

  it("caps the app's own pool; the default pool opens more under the same burst", async () => {
    const withCap = await connectionsAfterBurst(capped, { DATABASE_POOL_MAX: '2' });
    const withDefault = await connectionsAfterBurst(uncapped, {});
    expect(withCap).toBeGreaterThan(0);
    expect(withCap).toBeLessThanOrEqual(2);
    expect(withDefault).toBeGreaterThan(2);
  });
});
