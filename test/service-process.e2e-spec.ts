import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from './support/test-db';
import { token } from './support/test-app';
import { TEST_JWT_SECRET } from './support/env';
import { freePort, startService, waitForHttp } from './support/process';

/** As root from a DATA_DIR the postgres user cannot enter, the cluster lives elsewhere: removed with DATA_DIR. */
function removeRelocatedCluster(output: string): void {
  const cluster = /data in (\/var\/lib\/nest-audit-trail\/[0-9a-f]+)\/postgres, log in/.exec(output)?.[1];
  if (cluster) rmSync(cluster, { recursive: true, force: true });
}

/** The built service as a user runs it: `npm start` (dist/demo/main.js). */
describe('the service process', () => {
  it('refuses to start on bad configuration, naming every bad variable', async () => {
    const service = startService({ PORT: 'abc', AUDIT_BATCH_SIZE: '0', DATABASE_URL: 'mysql://nope' });
    expect(await service.exited).toBe(1);
    expect(service.output()).toMatch(/PORT/);
    expect(service.output()).toMatch(/AUDIT_BATCH_SIZE/);
    expect(service.output()).toMatch(/DATABASE_URL must be a postgres:\/\/ connection URL/);
  });

  it('starts an embedded Postgres when DATABASE_URL is unset, migrates it, and serves', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'audit-embedded-'));
    const [port, pgPort] = [await freePort(), await freePort()];
    const service = startService({ PORT: String(port), DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(pgPort) });
    let exit: number | string | null;
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health/ready`, service);
      expect(service.output()).toMatch(/embedded Postgres/i);
      expect(service.output()).toMatch(/DEVELOPMENT secret/);
      const alice = await token(
        { sub: 'alice', org: 'org-a' },
        'dev-only-secret-change-me-dev-only-secret-change-me',
      );
      const res = await fetch(`http://127.0.0.1:${port}/accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'Ada',
          email: 'ada@example.com',
          plan: 'free',
          password: 'long-enough-1',
        }),
      });
      expect(res.status).toBe(201);
    } finally {
      service.child.kill('SIGTERM');
      // Nest closes the app, then re-raises the signal: a clean exit "by SIGTERM", as Kubernetes expects.
      exit = await service.exited;
      rmSync(dataDir, { recursive: true, force: true });
      removeRelocatedCluster(service.output());
    }
    expect({ exit, output: exit === 'SIGTERM' ? '' : service.output() }).toEqual({
      exit: 'SIGTERM',
      output: '',
    });
  }, 90_000);

  it('drains audit events on SIGTERM: every acknowledged request has its event', async () => {
    const db = await createTestDatabase();
    const port = await freePort();
    // A one-minute flush interval: only the shutdown drain can write the events.
    const service = startService({
      PORT: String(port),
      DATABASE_URL: db.url,
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      AUDIT_FLUSH_INTERVAL_MS: '60000',
      AUDIT_BATCH_SIZE: '50000',
    });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health/live`, service);
      const alice = await token({ sub: 'alice', org: 'org-a' });
      const statuses = await Promise.all(
        Array.from({ length: 200 }, () =>
          fetch(`http://127.0.0.1:${port}/accounts`, { headers: { authorization: `Bearer ${alice}` } }).then(
            (r) => r.status,
          ),
        ),
      );
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect((await db.sql.query('SELECT count(*)::int AS n FROM audit_events')).rows[0].n).toBe(0);
      service.child.kill('SIGTERM');
      expect(await service.exited).toBe('SIGTERM');
      const { rows } = await db.sql.query(
        `SELECT count(*)::int AS n FROM audit_events WHERE action = 'list'`,
      );
      expect(rows[0].n).toBe(200);
      expect(service.output()).toMatch(/Draining 200 audit events/);
    } finally {
      service.child.kill('SIGKILL');
      await db.drop();
    }
  }, 60_000);
});
