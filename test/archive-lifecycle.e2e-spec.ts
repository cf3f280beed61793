import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync, gunzipSync } from 'node:zlib';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { ArchiveService } from '../src/archive/archive.service';
import { Clock } from '../src/common/clock/clock';
import { StatsRefreshJob } from '../src/query/stats-refresh.job';
import { childrenOf, idsIn, maintainNow, monthStart, partitionName, recordMonths } from './support/lifecycle';
import { waitForMaintenanceIdle } from './support/maintenance';
import { startTestApp, token } from './support/test-app';
import { createTestDatabase, TestDatabase } from './support/test-db';

const DAY_MS = 86_400_000;
const PER_MONTH = 12;

/** Ids in an archive on disk: one JSON array per line, values in the manifest's column order. */
function archivedIds(dataFile: string, manifestFile: string): string[] {
  const columns = (JSON.parse(readFileSync(manifestFile, 'utf8')) as { columns: Array<{ name: string }> })
    .columns;
  const at = columns.findIndex((c) => c.name === 'id');
  return gunzipSync(readFileSync(dataFile))
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as string[])[at]);
}

describe('partition lifecycle: hot -> warm -> cold -> expired, restore', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let dir: string;
  let admin: string;
  let inserted: string[];
  const clock = () => app.get(Clock);
  const archiveFile = (key: string) => join(dir, key);

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'audit-archive-'));
    app = await startTestApp(db.url, { ARCHIVE_URL: pathToFileURL(dir).href });
    await waitForMaintenanceIdle(db);
    admin = await token({ sub: 'root', org: 'org-life', roles: ['audit:platform', 'audit:admin', 'audit:read:all'] });
    // 17 months of events, from 16 months ago to this month: the past months have no partition yet, so
    // they land in DEFAULT, as back-dated events or a missed maintenance would.
    inserted = await recordMonths(app, -16, 0, PER_MONTH);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves stray rows out of DEFAULT (dry run first), keeps far-future rows there and counted', async () => {
    const far = new Date(Date.now() + 20 * 365 * DAY_MS);
    await db.sql.query(
      `INSERT INTO audit_events (id, occurred_at, actor_type, action, event_type, status, severity)
       VALUES (gen_random_uuid(), $1, 'system', 'tick', 'clock.skew', 'success', 'info')`,
      [far],
    );
    const inDefault = async () =>
      Number((await db.sql.query('SELECT count(*) AS n FROM audit_events_default')).rows[0].n);
    expect(await inDefault()).toBe(16 * PER_MONTH + 1);

    await maintainNow(app, true); // waits out the boot-time indexing, which holds the same lock
    const dry = await request(app.getHttpServer())
      .post('/audit/partitions/maintenance?dryRun=true')
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    expect(dry.body.dryRun).toBe(true);
    expect(dry.body.moved).toHaveLength(16);
    expect(dry.body.beyondHorizon).toBe(1);
    expect(await inDefault()).toBe(16 * PER_MONTH + 1); // nothing changed
    expect(await childrenOf(db, 'audit_events')).not.toContain(partitionName(monthStart(-16)));

    const report = await maintainNow(app);
    expect(report.moved.map((m) => m.partition)).toEqual(
      Array.from({ length: 16 }, (_, i) => partitionName(monthStart(i - 16))),
    );
    expect(report.moved.every((m) => m.rows === PER_MONTH)).toBe(true);
    expect(report.beyondHorizon).toBe(1);
    expect(await inDefault()).toBe(1);
    const hot = await childrenOf(db, 'audit_events');
    expect(hot).toContain(partitionName(monthStart(-16)));
    // No partition anywhere near the far-future row: the horizon held.
    expect(
      hot.filter((name) => name >= partitionName(monthStart(13)) && name !== 'audit_events_default'),
    ).toEqual([]);
    const metrics = await request(app.getHttpServer()).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/^audit_partition_beyond_horizon_rows 1$/m);

    // Every run is recorded, the dry one too.
    const { rows } = await db.sql.query(
      `SELECT dry_run, outcome, actions FROM audit_lifecycle_runs WHERE job = 'partition-maintenance' ORDER BY id DESC LIMIT 2`,
    );
    expect(rows).toEqual([
      { dry_run: false, outcome: 'success', actions: expect.objectContaining({ beyondHorizon: 1 }) },
      { dry_run: true, outcome: 'success', actions: expect.objectContaining({ dryRun: true }) },
    ]);
  });

  it('lists partitions with tier, range, rows and bytes, DEFAULT included; admin only; validates input', async () => {
    const { body } = await request(app.getHttpServer())
      .get('/audit/partitions?exact=true')
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    const byName = new Map(body.map((p: { name: string }) => [p.name, p]));
    expect(byName.get('audit_events_default')).toMatchObject({
      tier: 'default',
      rows: 1,
      beyondHorizon: 1,
      from: null,
    });
    expect(byName.get(partitionName(monthStart(-3)))).toMatchObject({
      tier: 'hot',
      rows: PER_MONTH,
      rowsExact: true,
      from: monthStart(-3).toISOString(),
      to: monthStart(-2).toISOString(),
    });
    expect((byName.get(partitionName(monthStart(0))) as { bytes: number }).bytes).toBeGreaterThan(0);

    const reader = await token({ sub: 'r', org: 'org-life', roles: ['audit:read'] });
    await request(app.getHttpServer())
      .get('/audit/partitions')
      .set('Authorization', `Bearer ${reader}`)
      .expect(403);
    // An organization's admin acts on its own organization; partitions and archives span all of them.
    const orgAdmin = await token({ sub: 'oa', org: 'org-life', roles: ['audit:admin', 'audit:read:all'] });
    for (const [method, path] of [['get', '/audit/partitions'], ['post', '/audit/archives/run?dryRun=true']] as const) {
      const res = await request(app.getHttpServer())[method](path).set('Authorization', `Bearer ${orgAdmin}`);
      expect(res.status).toBe(403);
      expect(res.body.message).toMatch(/audit:platform/);
    }
    await request(app.getHttpServer())
      .post('/audit/archives/run')
      .set('Authorization', `Bearer ${reader}`)
      .expect(403);
    const bad = await request(app.getHttpServer())
      .post('/audit/archives/run?dryRun=maybe')
      .set('Authorization', `Bearer ${admin}`)
      .expect(400);
    expect(JSON.stringify(bad.body.message)).toContain('dryRun');
    await request(app.getHttpServer())
      .post('/audit/archives/run?force=true')
      .set('Authorization', `Bearer ${admin}`)
      .expect(400);
  });

  it('archives: dry run plans, the run makes old months warm and older ones cold; nothing lost or duplicated', async () => {
    const now = new Date();
    const warmCutoff = new Date(now.getTime() - 90 * DAY_MS);
    const coldCutoff = new Date(now.getTime() - 365 * DAY_MS);
    const months = Array.from({ length: 17 }, (_, i) => i - 16);
    const expectWarm = months.filter(
      (m) => monthStart(m + 1) <= warmCutoff && monthStart(m + 1) > coldCutoff,
    );
    const expectCold = months.filter((m) => monthStart(m + 1) <= coldCutoff);
    expect(expectCold.length).toBeGreaterThanOrEqual(3);

    const dry = await request(app.getHttpServer())
      .post('/audit/archives/run?dryRun=true')
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    expect(dry.body.warmed.sort()).toEqual(
      [...expectWarm, ...expectCold].map((m) => partitionName(monthStart(m))).sort(),
    );
    expect(dry.body.archived.map((a: { partition: string }) => a.partition).sort()).toEqual(
      expectCold.map((m) => partitionName(monthStart(m))).sort(),
    );
    expect(await childrenOf(db, 'audit_events_warm')).toEqual([]);
    expect((await db.sql.query('SELECT count(*)::int AS n FROM audit_archives')).rows[0].n).toBe(0);

    const run = await request(app.getHttpServer())
      .post('/audit/archives/run')
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    expect(run.body.archived).toHaveLength(expectCold.length);
    expect(run.body.deferred).toEqual([]);

    const hot = await childrenOf(db, 'audit_events');
    const warm = await childrenOf(db, 'audit_events_warm');
    expect(warm).toEqual(expectWarm.map((m) => partitionName(monthStart(m))).sort());
    for (const m of expectCold) {
      expect(hot).not.toContain(partitionName(monthStart(m)));
      expect(warm).not.toContain(partitionName(monthStart(m)));
    }
    expect(hot).toContain(partitionName(monthStart(-2)));

    const { body: archives } = await request(app.getHttpServer())
      .get('/audit/archives')
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    expect(archives).toHaveLength(expectCold.length);
    const archivedOnDisk: string[] = [];
    for (const archive of archives) {
      expect(archive).toMatchObject({ state: 'cold', rows: PER_MONTH });
      expect(archive.bytes).toBeGreaterThan(0);
      const manifest = JSON.parse(readFileSync(archiveFile(archive.manifestKey), 'utf8'));
      expect(manifest).toMatchObject({
        schemaVersion: 1,
        rowEncoding: 'json-array',
        archiveId: archive.id,
        rowCount: PER_MONTH,
        source: { partition: archive.partition, from: archive.from, to: archive.to },
        files: [
          {
            key: archive.dataKey,
            compression: 'gzip',
            sha256: archive.sha256,
            bytes: archive.bytes,
            rows: PER_MONTH,
          },
        ],
      });
      expect(manifest.columns.map((c: { name: string }) => c.name)).toEqual(
        expect.arrayContaining(['id', 'occurred_at', 'before', 'after', 'metadata']),
      );
      archivedOnDisk.push(...archivedIds(archiveFile(archive.dataKey), archiveFile(archive.manifestKey)));
    }

    // Every event is in exactly one place: the hot/warm tables (through the admin view) or an archive.
    const live = await idsIn(db, 'audit_events_all');
    const everywhere = [...live.filter((id) => inserted.includes(id)), ...archivedOnDisk];
    expect(everywhere.length).toBe(inserted.length);
    expect(new Set(everywhere)).toEqual(new Set(inserted));
  });

  it('keeps warm months queryable through the admin API', async () => {
    const warm = (await childrenOf(db, 'audit_events_warm'))[0];
    const m = Number(warm.slice(-2)) - 1;
    const y = Number(warm.slice(-7, -3));
    const from = new Date(Date.UTC(y, m, 1)).toISOString();
    const to = new Date(Date.UTC(y, m + 1, 1)).toISOString();
    const page = await request(app.getHttpServer())
      .get(`/audit/events?from=${from}&to=${to}&limit=100`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    expect(page.body.items).toHaveLength(PER_MONTH);
    const one = page.body.items[0];
    await request(app.getHttpServer())
      .get(`/audit/events/${one.id}`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    const history = await request(app.getHttpServer())
      .get(`/audit/resources/contract/${one.resourceId}/history`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    expect(history.body.items.map((e: { id: string }) => e.id)).toContain(one.id);

    // Through the view, the planner still prunes to the one warm partition and can read it by index.
    await db.sql.query('SET enable_seqscan = off');
    const plan = await db.sql.query(
      `EXPLAIN SELECT id FROM audit_events_all WHERE organization_id = 'org-life' AND occurred_at >= $1 AND occurred_at < $2
        ORDER BY occurred_at DESC, id DESC LIMIT 50`,
      [from, to],
    );
    const text = plan.rows.map((r) => r['QUERY PLAN'] as string).join('\n');
    expect(text).toContain(`on ${warm} `);
    expect(text).toMatch(/Index (Only )?Scan/);
    expect(text).not.toContain(partitionName(monthStart(0)));
    await db.sql.query('RESET enable_seqscan');

    // The stats views count warm months too.
    await app.get(StatsRefreshJob).run();
    const stats = await request(app.getHttpServer())
      .get(`/audit/stats?from=${from}&to=${to}&groupBy=organization&organizationId=org-life`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    expect(stats.body.items).toEqual([expect.objectContaining({ key: 'org-life', events: PER_MONTH })]);
  });

  it('restores a cold archive into a queryable table after checking it, and refuses a tampered one', async () => {
    const archives = (await app.get(ArchiveService).list()).filter((a) => a.state === 'cold');
    const [first, second] = archives;
    const verified = await request(app.getHttpServer())
      .post(`/audit/archives/${first.id}/restore?dryRun=true`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    expect(verified.body).toMatchObject({ dryRun: true, rows: PER_MONTH, sha256: first.sha256 });
    expect((await db.sql.query('SELECT to_regclass($1) AS t', [verified.body.table])).rows[0].t).toBeNull();
    const restored = await request(app.getHttpServer())
      .post(`/audit/archives/${first.id}/restore`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    expect(restored.body).toMatchObject({ archiveId: first.id, rows: PER_MONTH, sha256: first.sha256 });
    const { rows } = await db.sql.query(
      `SELECT id::text, occurred_at, after, actor_type FROM "${restored.body.table}" ORDER BY occurred_at`,
    );
    expect(rows).toHaveLength(PER_MONTH);
    expect(new Set(rows.map((r) => r.id))).toEqual(
      new Set(archivedIds(archiveFile(first.dataKey), archiveFile(first.manifestKey))),
    );
    expect(rows[0].occurred_at).toBeInstanceOf(Date);
    expect(rows[0].after).toMatchObject({ note: 'line\nbreak "quoted" \\ back' });
    // Restoring again replaces the table (same rows, never doubled).
    await request(app.getHttpServer())
      .post(`/audit/archives/${first.id}/restore`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(200);
    expect((await db.sql.query(`SELECT count(*)::int AS n FROM "${restored.body.table}"`)).rows[0].n).toBe(
      PER_MONTH,
    );

    // One event edited inside a well-formed gzip file: the checksum no longer matches.
    const path = archiveFile(second.dataKey);
    const text = gunzipSync(readFileSync(path)).toString('utf8');
    writeFileSync(path, gzipSync(Buffer.from(text.replace('"update"', '"delete"'))));
    const refused = await request(app.getHttpServer())
      .post(`/audit/archives/${second.id}/restore`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(422);
    expect(refused.body).toMatchObject({ code: 'ARCHIVE_TAMPERED' });
    await request(app.getHttpServer())
      .post(`/audit/archives/${second.id}/restore?dryRun=true`)
      .set('Authorization', `Bearer ${admin}`)
      .expect(422);
    expect(refused.body.message).toContain('checksum');
    const { rows: tables } = await db.sql.query(`SELECT relname FROM pg_class WHERE relname LIKE $1`, [
      `audit_restored_%_${second.id.slice(0, 8)}`,
    ]);
    expect(tables).toEqual([]);
    await request(app.getHttpServer())
      .post('/audit/archives/not-a-uuid/restore')
      .set('Authorization', `Bearer ${admin}`)
      .expect(400);
    await request(app.getHttpServer())
      .post('/audit/archives/00000000-0000-4000-8000-000000000000/restore')
      .set('Authorization', `Bearer ${admin}`)
      .expect(404);
  });

  it('moves months along as the clock advances, and expires archives past retention', async () => {
    // Eight years later: every month is past retention once archived.
    clock().set(new Date(Date.now() + 8 * 365 * DAY_MS));
    try {
      const first = (await app.get(ArchiveService).run())!;
      expect(first.expired.length).toBeGreaterThanOrEqual(3); // the archives made earlier
      const archives = await app.get(ArchiveService).list();
      for (const a of archives.filter((x) => first.expired.some((e) => e.archiveId === x.id))) {
        expect(a.state).toBe('expired');
        expect(existsSync(archiveFile(a.dataKey))).toBe(false);
        expect(existsSync(archiveFile(a.manifestKey))).toBe(false);
      }
      // Everything else went cold in the same run; the next run expires it.
      expect(await childrenOf(db, 'audit_events_warm')).toEqual([]);
      const second = (await app.get(ArchiveService).run())!;
      expect(second.expired.length).toBe(first.archived.length);
      expect((await app.get(ArchiveService).list()).every((a) => a.state === 'expired')).toBe(true);
      const expired = (await app.get(ArchiveService).list())[0];
      await request(app.getHttpServer())
        .post(`/audit/archives/${expired.id}/restore`)
        .set('Authorization', `Bearer ${admin}`)
        .expect(409);
    } finally {
      clock().set(null);
    }
  });
});
