import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../demo/data-source-options';
import { trailConfigFrom } from '../../src/config/audit-options-from-env';
import { loadConfig } from '../../src/config/environment';
import { Clock } from '../../src/common/clock/clock';
import { LifecycleRunRepository } from '../../src/partitions/lifecycle-run.repository';
import { PartitionRepository } from '../../src/partitions/partition.repository';
import { PartitionService } from '../../src/partitions/partition.service';
import { StatsRepository } from '../../src/query/stats.repository';
import { BenchDatabase } from '../lib/bench-db';
import { AuditHistory } from '../lib/event-history';
import { formatMiB } from '../lib/table';
import { createMonthlyPartitions, loadHistory, LoadResult } from '../query/load';

export type Timed = <T>(name: string, work: () => Promise<T>, detail?: (result: T) => string) => Promise<T>;

export interface SeedOptions {
  events: number;
  streams: number;
  maxLoadMinutes: number;
  maintenanceWorkMem: string;
  from: Date;
  now: Date;
}

export interface Seeded {
  partitions: string[];
  load: Omit<LoadResult, 'sample'>;
  indexed: string[];
  refreshes: Array<{ view_name: string; duration_ms: number }>;
}

/**
 * The query benchmark's data set: monthly partitions up to now, the generated history COPYed in, VACUUM
 * ANALYZE, the search indexes of the closed partitions (as the partition job builds them) and the stats
 * views refreshed (the dashboard's figures).
 */
export async function seedHistory(
  db: BenchDatabase,
  history: AuditHistory,
  options: SeedOptions,
  timed: Timed,
): Promise<Seeded> {
  const maintenance = new DataSource(
    dataSourceOptions(db.url, {
      extra: {
        max: 2,
        application_name: 'audit-bench-maintenance',
        options: `-c maintenance_work_mem=${options.maintenanceWorkMem}`,
      },
    }),
  );
  await maintenance.initialize();
  try {
    const partitions = await timed(
      'partitions',
      () => createMonthlyPartitions(maintenance, options.from, options.now),
      (names) => `${names.length} monthly (${names[0]} .. ${names[names.length - 1]})`,
    );
    const { sample: _sample, ...load } = await timed(
      'load',
      () =>
        loadHistory(db.url, history, {
          events: options.events,
          streams: options.streams,
          maxMinutes: options.maxLoadMinutes,
        }),
      (r) =>
        `${r.events} events, ${Math.round(r.eventsPerSec)} ev/s, ${formatMiB(r.bytes)} of COPY text, ${options.streams} streams`,
    );
    await timed('vacuum analyze', () => db.sql.query('VACUUM ANALYZE audit_events'));
    const partitionService = new PartitionService(
      new PartitionRepository(maintenance),
      trailConfigFrom(loadConfig({})),
      new Clock(),
      new LifecycleRunRepository(maintenance),
    );
    const indexed = await timed(
      'search indexes',
      () => partitionService.indexClosedPartitions(options.now),
      (names) => `${names.length} partitions (PartitionService.indexClosedPartitions)`,
    );
    await timed(
      'stats refresh',
      () => new StatsRepository(maintenance).refreshAll(),
      (ok) => (ok ? 'StatsRepository.refreshAll' : 'lock not taken'),
    );
    const { rows: refreshes } = await db.sql.query(
      'SELECT view_name, duration_ms FROM audit_stats_refreshes ORDER BY view_name',
    );
    return { partitions, load, indexed, refreshes };
  } finally {
    await maintenance.destroy();
  }
}

/**
 * Waits until nothing but this connection is active on the database for `quietMs` (autovacuum after the
 * load, anything still running: minutes of Postgres work over 10M events the measurements must not share
 * the CPUs with). Returns the seconds waited.
 */
export async function waitUntilQuiet(
  db: BenchDatabase,
  { quietMs = 3_000, timeoutMs = 600_000, log = (line: string) => console.log(line) } = {},
): Promise<number> {
  const started = Date.now();
  let quietSince = Date.now();
  let lastLog = 0;
  while (Date.now() - started < timeoutMs) {
    const { rows } = await db.sql.query<{ application_name: string; query: string }>(
      `SELECT application_name, left(regexp_replace(query, '\\s+', ' ', 'g'), 80) AS query FROM pg_stat_activity
        WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`,
    );
    if (rows.length > 0) quietSince = Date.now();
    if (Date.now() - quietSince >= quietMs) return (Date.now() - started) / 1000;
    if (rows.length > 0 && Date.now() - lastLog >= 10_000) {
      lastLog = Date.now();
      log(`  waiting for the database to go quiet: ${rows.map((r) => r.query).join(' | ')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  log(`  the database did not go quiet within ${timeoutMs / 1000} s: measuring anyway`);
  return (Date.now() - started) / 1000;
}
