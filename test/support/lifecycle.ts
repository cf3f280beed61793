import { INestApplication } from '@nestjs/common';
import { MaintenanceReport, PartitionService } from '../../src/partitions/partition.service';
import { AuditService } from '../../src/audit';
import { TestDatabase } from './test-db';

/** First instant of the UTC month `offset` months from `base`. */
export const monthStart = (offset: number, base = new Date()) =>
  new Date(Date.UTC(base.getUTCFullYear(), base.getUTCMonth() + offset, 1));

export const partitionName = (d: Date) =>
  `audit_events_p${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;

/**
 * Records `perMonth` events in each month of [fromOffset, toOffset] (relative to the current month),
 * through the real capture path; returns their ids.
 */
export async function recordMonths(
  app: INestApplication,
  fromOffset: number,
  toOffset: number,
  perMonth: number,
  organizationId = 'org-life',
): Promise<string[]> {
  const audit = app.get(AuditService);
  const ids: string[] = [];
  for (let month = fromOffset; month <= toOffset; month++) {
    const start = monthStart(month).getTime();
    for (let i = 0; i < perMonth; i++) {
      const event = audit.record({
        action: 'update',
        resourceType: 'contract',
        resourceId: `c-${month}-${i}`,
        actor: { id: `actor-${i % 3}`, organizationId, type: 'user' },
        after: { title: `month ${month} event ${i}`, note: 'line\nbreak "quoted" \\ back' },
        occurredAt: new Date(start + 3_600_000 + i * 60_000),
      });
      ids.push(event!.id);
    }
  }
  if (!(await audit.flush(10_000))) throw new Error('audit buffer did not drain');
  return ids;
}

/** Names of the partitions of `parent`. */
export async function childrenOf(db: TestDatabase, parent: string): Promise<string[]> {
  const { rows } = await db.sql.query(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = to_regclass($1) ORDER BY 1`,
    [parent],
  );
  return rows.map((r) => r.relname as string);
}

export async function idsIn(db: TestDatabase, relation: string): Promise<string[]> {
  const { rows } = await db.sql.query(`SELECT id::text FROM "${relation}"`);
  return rows.map((r) => r.id as string);
}

/**
 * One maintenance run that does the work: retried while another holder of the maintenance lock (the
 * boot-time search indexing) makes it back off.
 */
export async function maintainNow(app: INestApplication, dryRun = false): Promise<MaintenanceReport> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const report = await app.get(PartitionService).maintain(dryRun);
    if (report) return report;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('partition maintenance lock stayed busy');
}
