import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { Pool } from 'pg';
import { AuditEventRepository } from '../src/audit/audit-event.repository';
import { encodeEvent } from '../src/audit/copy-format';
import { AuditEvent } from '../src/audit';
import { TEST_JWT_SECRET } from './support/env';
import { freePort, startService, waitForHttp } from './support/process';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { token } from './support/test-app';

const ROWS = 100_000;
const HEAP_MB = 96;

function bulkEvent(i: number): AuditEvent {
  return {
    id: crypto.randomUUID(),
    occurredAt: new Date(Date.now() - i),
    organizationId: 'org-bulk',
    actorId: `actor-${i % 100}`,
    actorType: 'user',
    action: 'update',
    eventType: 'bulk.update',
    resourceType: 'bulk',
    resourceId: `b-${i}`,
    before: { n: i, pad: 'x'.repeat(400) },
    after: { n: i + 1, pad: 'y'.repeat(400) },
    changes: [{ path: 'n', before: i, after: i + 1 }],
    status: 'success',
    statusCode: 200,
    errorMessage: null,
    severity: 'info',
    requestId: null,
    ip: '10.0.0.1',
    userAgent: 'bulk',
    route: '/bulk/:id',
    method: 'PATCH',
    durationMs: 1,
    metadata: null,
  };
}

/**
 * The export streams: the real service process, its V8 heap capped at 96 MB, exports 100k events
 * (~100 MB of NDJSON). A buffering export would die of OOM; the peak RSS (VmHWM) is checked too.
 */
describe('export of 100k events', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    const pool = new Pool({ connectionString: db.url, max: 1 });
    const repository = new AuditEventRepository(pool);
    for (let start = 0; start < ROWS; start += 20_000) {
      await repository.copy(Array.from({ length: 20_000 }, (_, i) => encodeEvent(bulkEvent(start + i))));
    }
    await pool.end();
  }, 120_000);
  afterAll(async () => {
    await db?.drop();
  });

  it(`streams every row with the heap capped at ${HEAP_MB} MB`, async () => {
    const port = await freePort();
    const service = startService({
      PORT: String(port),
      DATABASE_URL: db.url,
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}`,
      LOG_LEVEL: 'error',
    });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health/live`, service);
      const bearer = await token({ sub: 'auditor', org: 'org-bulk', roles: ['audit:read'] });
      const counted = await new Promise<{ lines: number; bytes: number; status: number }>(
        (resolve, reject) => {
          get(
            `http://127.0.0.1:${port}/audit/export?resourceType=bulk`,
            { headers: { authorization: `Bearer ${bearer}` } },
            (res) => {
              let lines = 0;
              let bytes = 0;
              res.on('data', (chunk: Buffer) => {
                bytes += chunk.length;
                for (const byte of chunk) if (byte === 10) lines++;
              });
              res.on('end', () => resolve({ lines, bytes, status: res.statusCode! }));
            },
          ).on('error', reject);
        },
      );
      const peakRssKb = Number(
        /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${service.child.pid}/status`, 'utf8'))![1],
      );
      expect(counted).toMatchObject({ status: 200, lines: ROWS });
      expect(counted.bytes).toBeGreaterThan(100 * 1024 * 1024);
      expect(peakRssKb).toBeLessThan(300 * 1024); // a 100+ MB body never sits in memory

      // A client that goes away mid-export stops the query: the export connection goes idle again.
      await new Promise<void>((resolve, reject) => {
        const req = get(
          `http://127.0.0.1:${port}/audit/export?resourceType=bulk`,
          { headers: { authorization: `Bearer ${bearer}` } },
          (res) => res.once('data', () => (req.destroy(), resolve())),
        );
        req.on('error', (error) =>
          (error as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(error),
        );
      });
      let active = -1;
      for (let i = 0; i < 50 && active !== 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const { rows } = await db.sql.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE application_name = 'nest-audit-trail:export' AND state <> 'idle'`,
        );
        active = rows[0].n;
      }
      expect(active).toBe(0);
    } finally {
      service.child.kill('SIGTERM');
      await service.exited;
    }
  }, 180_000);
});
