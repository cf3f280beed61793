import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AuditService } from '../src/audit';
import { loadConfig } from '../src/config/environment';
import { IntegrityService } from '../src/integrity/integrity.service';
import { verifyCommand } from '../src/cli/verify-command';
import { monthlyPartition } from '../src/partitions/partition-naming';
import { PartitionRepository } from '../src/partitions/partition.repository';
import { waitForMaintenanceIdle } from './support/maintenance';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { flushAudit, startTestApp, token } from './support/test-app';

const BATCH = 10;

/** `batches` batches of BATCH events for `org` (one seal each). */
async function record(app: INestApplication, org: string, batches: number): Promise<void> {
  const audit = app.get(AuditService);
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < BATCH; i++)
      audit.record({
        action: 'update',
        resourceType: 'invoice',
        resourceId: `inv-${b}-${i}`,
        actor: { id: 'user-1', organizationId: org },
        after: { total: b * 100 + i },
      });
    await flushAudit(app);
  }
}

/**
 * What a superuser does to hide the newest events: with triggers off (session_replication_role = replica)
 * the events of the seals after `keep`, those seals, optionally their checkpoints, and the head row moved
 * back, so that what is left is a consistent, shorter chain. `keep` 0: the whole chain.
 */
async function cutTail(db: TestDatabase, org: string, keep: number, withCheckpoints: boolean): Promise<void> {
  await db.sql.query('BEGIN');
  await db.sql.query(`SET LOCAL session_replication_role = replica`);
  await db.sql.query(
    `DELETE FROM audit_events WHERE organization_id = $1
        AND batch_id IN (SELECT batch_id FROM audit_seals WHERE org_key = $1 AND seq > $2)`,
    [org, keep],
  );
  await db.sql.query(`DELETE FROM audit_seals WHERE org_key = $1 AND seq > $2`, [org, keep]);
  if (withCheckpoints)
    await db.sql.query(`DELETE FROM audit_checkpoints WHERE org_key = $1 AND seq > $2`, [org, keep]);
  if (keep === 0) await db.sql.query(`DELETE FROM audit_chain_heads WHERE org_key = $1`, [org]);
  else
    await db.sql.query(
      `UPDATE audit_chain_heads h SET seq = s.seq, seal_hash = s.seal_hash
         FROM audit_seals s WHERE h.org_key = $1 AND s.org_key = $1 AND s.seq = $2`,
      [org, keep],
    );
  await db.sql.query('COMMIT');
}

const headFile = (dir: string, db: TestDatabase, org: string) =>
  join(dir, 'chain-heads', db.name, `${createHash('sha256').update(org).digest('hex')}.json`);

describe('tail truncation', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let integrity: IntegrityService;
  let dir: string;
  let admin: string;

  const verify = async (query: Record<string, string> = {}) => {
    const res = await request(app.getHttpServer())
      .get('/audit/integrity/verify')
      .query(query)
      .set('Authorization', `Bearer ${admin}`);
    expect(res.status).toBe(200);
    return res.body;
  };
  const cli = (org?: string) =>
    verifyCommand(loadConfig({ DATABASE_URL: db.url, ARCHIVE_URL: pathToFileURL(dir).href }), { org });

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'audit-heads-'));
    app = await startTestApp(db.url, {
      AUDIT_BATCH_SIZE: String(BATCH),
      AUDIT_FLUSH_CONCURRENCY: '1',
      ARCHIVE_URL: pathToFileURL(dir).href,
    });
    integrity = app.get(IntegrityService);
    admin = await token({ sub: 'root', org: 'ops', roles: ['audit:admin', 'audit:read:all'] });
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes signed heads outside the database only when they moved; a clean chain verifies green', async () => {
    await record(app, 'org-clean', 3);
    expect(await integrity.publishHeads()).toEqual({ published: 1, refused: [] });
    const head = JSON.parse(readFileSync(headFile(dir, db, 'org-clean'), 'utf8'));
    expect(head).toMatchObject({ version: 1, organizationId: 'org-clean', seq: '3' });
    expect(head.signature).toEqual(expect.any(String));
    expect(await integrity.publishHeads()).toEqual({ published: 0, refused: [] });

    const body = await verify({ organizationId: 'org-clean' });
    expect(body).toMatchObject({ ok: true, firstBroken: null, publishedHeads: { checked: true } });
    expect(body.chains[0].externalHead).toMatchObject({ seq: '3', missing: null });
    expect(await cli('org-clean')).toMatchObject({ ok: true, checkedEvents: 3 * BATCH });
  });

  it('reports the newest events deleted with their seals before the first checkpoint, with the missing range', async () => {
    await record(app, 'org-tail', 3);
    await integrity.publishHeads();
    await cutTail(db, 'org-tail', 1, false);

    const body = await verify({ organizationId: 'org-tail' });
    expect(body.ok).toBe(false);
    expect(body.firstBroken).toMatchObject({ kind: 'head', id: 'org-tail#3', organizationId: 'org-tail' });
    expect(body.firstBroken.reason).toMatch(/the chain ends at seal 1, .* records seal 3: seals 2\.\.3 /);
    expect(body.chains[0].externalHead.missing).toMatchObject({ fromSeq: '2', toSeq: '3' });
    // The CLI says the same.
    const report = await cli('org-tail');
    expect(report.ok).toBe(false);
    expect(report.firstBroken).toMatchObject({ kind: 'head', id: 'org-tail#3' });
  });

  it('reports the tail deleted with its checkpoint (an older checkpoint still verifies)', async () => {
    await record(app, 'org-signed', 2);
    await integrity.chainAndSign();
    await record(app, 'org-signed', 2);
    await integrity.chainAndSign();
    await integrity.publishHeads();
    await cutTail(db, 'org-signed', 2, true);

    const body = await verify({ organizationId: 'org-signed' });
    expect(body.chains[0].checkpoint).toMatchObject({ seq: '2' });
    expect(body.ok).toBe(false);
    expect(body.firstBroken).toMatchObject({ kind: 'head', id: 'org-signed#4' });
    expect(body.chains[0].externalHead.missing).toMatchObject({ fromSeq: '3', toSeq: '4' });
  });

  it('never overwrites a published head with a chain cut and grown again', async () => {
    await record(app, 'org-regrown', 2);
    await integrity.publishHeads();
    const published = readFileSync(headFile(dir, db, 'org-regrown'), 'utf8');
    await cutTail(db, 'org-regrown', 1, true);
    await record(app, 'org-regrown', 2); // seals 2 and 3 again, with other events

    expect((await integrity.publishHeads())!.refused).toContain('org-regrown');
    expect(readFileSync(headFile(dir, db, 'org-regrown'), 'utf8')).toBe(published);
    const body = await verify({ organizationId: 'org-regrown' });
    expect(body.firstBroken).toMatchObject({ kind: 'head', id: 'org-regrown#2' });
    expect(body.firstBroken.reason).toMatch(/seal 2 differs from the head published/);
  });

  it('finds a chain deleted whole when verifying every chain (API and CLI)', async () => {
    await record(app, 'org-gone', 1);
    await integrity.publishHeads();
    await cutTail(db, 'org-gone', 0, true);

    for (const report of [await verify(), await cli()]) {
      expect(report.ok).toBe(false);
      const gone = report.chains.find((c: { organizationId: string }) => c.organizationId === 'org-gone');
      expect(gone).toMatchObject({
        ok: false,
        checkedSeals: 0,
        firstBroken: { kind: 'head', id: 'org-gone#1' },
      });
      expect(gone.externalHead.missing).toMatchObject({ fromSeq: '1', toSeq: '1', afterEventAt: null });
      const clean = report.chains.find((c: { organizationId: string }) => c.organizationId === 'org-clean');
      expect(clean).toMatchObject({ ok: true });
    }
  });
});

describe('tail truncation: the head job', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'audit-heads-'));
    app = await startTestApp(db.url, {
      AUDIT_BATCH_SIZE: String(BATCH),
      ARCHIVE_URL: pathToFileURL(dir).href,
      AUDIT_HEAD_INTERVAL_MS: '1000',
    });
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes within AUDIT_HEAD_INTERVAL_MS, so a tail deleted after that is reported', async () => {
    await record(app, 'org-job', 2);
    const file = headFile(dir, db, 'org-job');
    for (
      let waited = 0;
      !existsSync(file) || JSON.parse(readFileSync(file, 'utf8')).seq !== '2';
      waited += 100
    ) {
      if (waited > 5000) throw new Error('no head published within 5 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await cutTail(db, 'org-job', 1, false);
    const report = await app
      .get(IntegrityService)
      .verify({ sub: 'root', org: null, roles: ['audit:admin', 'audit:read:all'] } as never, {}, 'org-job');
    expect(report.firstBroken).toMatchObject({ kind: 'head', id: 'org-job#2' });
  });
});

describe('partition TRUNCATE guard', () => {
  let db: TestDatabase;
  let app: INestApplication;

  const partitionsOf = async (parent: string) =>
    (
      await db.sql.query(
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = $1::regclass ORDER BY 1`,
        [parent],
      )
    ).rows.map((r) => r.relname as string);
  const truncate = (table: string) => db.sql.query(`TRUNCATE "${table}"`);

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url);
    await waitForMaintenanceIdle(db);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('refuses TRUNCATE of every partition: existing, DEFAULT, created later, warm; DETACH and DROP still work', async () => {
    const hot = await partitionsOf('audit_events');
    expect(hot).toContain('audit_events_default');
    expect(hot.length).toBeGreaterThan(4);
    for (const table of hot) await expect(truncate(table)).rejects.toThrow(/append-only: TRUNCATE/);

    // Created by the partition code after the migration (a month far ahead of any other).
    const repository = app.get(PartitionRepository);
    const range = monthlyPartition(new Date(Date.UTC(2099, 0, 15)));
    // Under the maintenance lock, which the app's boot-time maintenance may still hold.
    while (
      !(await repository.withMaintenanceLock((manager) => repository.create(manager, range).then(() => true)))
    )
      await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(truncate(range.name)).rejects.toThrow(/append-only: TRUNCATE/);

    // Warm: the guard stays with the table when it moves from the hot parent to the warm one.
    await db.sql.query(`ALTER TABLE audit_events DETACH PARTITION "${range.name}"`);
    await db.sql.query(
      `ALTER TABLE audit_events_warm ATTACH PARTITION "${range.name}" FOR VALUES FROM ($1) TO ($2)`.replace(
        /\$1|\$2/g,
        (p) => `'${(p === '$1' ? range.from : range.to).toISOString()}'`,
      ),
    );
    await expect(truncate(range.name)).rejects.toThrow(/append-only: TRUNCATE/);
    await expect(truncate('audit_events_warm')).rejects.toThrow(/append-only: TRUNCATE/);

    // The lifecycle path: whole partitions are detached and dropped.
    await db.sql.query(`ALTER TABLE audit_events_warm DETACH PARTITION "${range.name}"`);
    await db.sql.query(`DROP TABLE "${range.name}"`);
    expect(await partitionsOf('audit_events_warm')).not.toContain(range.name);
  });
});
