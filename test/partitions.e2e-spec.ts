import { INestApplication } from '@nestjs/common';
import { AuditService } from '../src/audit';
import { Clock } from '../src/common/clock/clock';
import { EventsRepository } from '../src/query/events.repository';
import { PartitionService } from '../src/partitions/partition.service';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { startTestApp } from './support/test-app';

const monthStart = (offset: number, now = new Date()) =>
  new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
const name = (d: Date) =>
  `audit_events_p${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;

describe('partitions', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let partitions: PartitionService;
  const partitionNames = async () =>
    (
      await db.sql.query(
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'audit_events'::regclass ORDER BY 1`,
      )
    ).rows.map((r) => r.relname as string);

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url);
    partitions = app.get(PartitionService);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('keeps the current month and three ahead, also when the clock moves, from replicas racing', async () => {
    const names = await partitionNames();
    for (let i = 0; i <= 3; i++) expect(names).toContain(name(monthStart(i)));
    expect(names).toContain('audit_events_default');

    // The boot-time search indexing (same lock) must be over before the race, or every caller backs off.
    for (let i = 0; i < 100; i++) {
      const { rows } = await db.sql.query(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`,
      );
      if (rows[0].n === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    app.get(Clock).set(monthStart(7));
    const results = await Promise.all([
      partitions.ensureAhead(),
      partitions.ensureAhead(),
      partitions.ensureAhead(),
    ]);
    app.get(Clock).set(null);
    // One replica did the work; the others saw the lock taken and did nothing (null), none failed.
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    const after = await partitionNames();
    for (let i = 7; i <= 10; i++) expect(after).toContain(name(monthStart(i)));
    expect(new Set(after).size).toBe(after.length);
  });

  it('builds the full-text index on closed months only; search finds events in indexed and hot partitions', async () => {
    const past = monthStart(-2);
    await db.sql.query(
      `CREATE TABLE "${name(past)}" PARTITION OF audit_events FOR VALUES FROM ('${past.toISOString()}') TO ('${monthStart(-1).toISOString()}')`,
    );
    const audit = app.get(AuditService);
    audit.record({
      action: 'update',
      resourceType: 'contract',
      actor: { organizationId: 'org-p' },
      after: { title: 'zebra crossing' },
      occurredAt: new Date(past.getTime() + 86_400_000),
    });
    audit.record({
      action: 'update',
      resourceType: 'contract',
      actor: { organizationId: 'org-p' },
      after: { title: 'zebra stripes' },
    });
    await audit.flush();

    const indexed = await partitions.indexClosedPartitions();
    expect(indexed).toContain(name(past));
    expect(indexed).not.toContain(name(monthStart(0)));
    const { rows } = await db.sql.query(
      `SELECT indexrelid::regclass::text AS idx FROM pg_index WHERE indexrelid::regclass::text LIKE '%search_idx'`,
    );
    expect(rows.map((r) => r.idx)).toEqual(
      expect.arrayContaining([`${name(past)}_search_idx`, 'audit_events_default_search_idx']),
    );
    expect(rows.map((r) => r.idx)).not.toContain(`${name(monthStart(0))}_search_idx`);
    expect(await partitions.indexClosedPartitions()).toEqual([]); // idempotent

    const found = await app.get(EventsRepository).page({ organizationId: 'org-p', q: 'zebra' }, null, 10);
    expect(found.map((e) => (e.after as { title: string }).title).sort()).toEqual([
      'zebra crossing',
      'zebra stripes',
    ]);
    await db.sql.query('SET enable_seqscan = off');
    const plan = await db.sql.query(
      `EXPLAIN SELECT id FROM "${name(past)}" WHERE audit_search_vector(event_type, resource_type, resource_id, before, after) @@ websearch_to_tsquery('simple', 'zebra')`,
    );
    expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain(`${name(past)}_search_idx`);
  });
});
