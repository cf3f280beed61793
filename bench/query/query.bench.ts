import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { DataSource } from 'typeorm';
import { loadConfig } from '../../src/config/environment';
import { trailConfigFrom } from '../../src/config/audit-options-from-env';
import { dataSourceOptions } from '../../demo/data-source-options';
import { poolFromDataSource } from '../../src/common/database/pg-pool';
import { monthlyPartition } from '../../src/partitions/partition-naming';
import { PartitionRepository } from '../../src/partitions/partition.repository';
import { PartitionService } from '../../src/partitions/partition.service';
import { LifecycleRunRepository } from '../../src/partitions/lifecycle-run.repository';
import { Clock } from '../../src/common/clock/clock';
import { EventsRepository } from '../../src/query/events.repository';
import { StatsRepository } from '../../src/query/stats.repository';
import { BenchDatabase, withBenchDatabase } from '../lib/bench-db';
import { AuditHistory } from '../lib/event-history';
import { parseFlags, withPreset } from '../lib/flags';
import { writeResults } from '../lib/results';
import { formatMiB } from '../lib/table';
import { Catalog, explain } from './explain';
import { exportOnce, ExportRun, exportStatement } from './export-rate';
import { createMonthlyPartitions, formatDuration, loadHistory, LoadResult } from './load';
import { measureQueries, picker, QueryResult } from './measure';
import { asOfSpecs, querySpecs, recordStatements } from './queries';
import { printReport } from './report';
import { copyEvents, versionedEvents } from './versioned';

const DAY_MS = 24 * 60 * 60 * 1000;
const SERVER_SETTINGS = [
  'server_version',
  'shared_buffers',
  'work_mem',
  'maintenance_work_mem',
  'effective_cache_size',
  'random_page_cost',
  'jit',
  'max_parallel_workers_per_gather',
  'max_wal_size',
];

function readFlags() {
  const flags = parseFlags({
    events: 10_000_000,
    reps: 20,
    warmup: 3,
    quick: false,
    organizations: 200,
    actors: 10_000,
    resources: 100_000,
    months: 12,
    days: 90,
    streams: 2,
    'export-reps': 3,
    'max-load-minutes': 25,
    'statement-timeout': 120,
    'as-of-versions': 1000,
    'as-of-reads': 500,
    'maintenance-work-mem': '256MB',
    seed: 1,
    plans: false,
  });
  return flags.quick ? withPreset(flags, { events: 300_000, reps: 8, warmup: 2, 'export-reps': 2 }) : flags;
}
export type Flags = ReturnType<typeof readFlags>;

export interface Phase {
  name: string;
  seconds: number;
  detail: string;
}

async function main(): Promise<void> {
  const flags = readFlags();
  const started = performance.now();
  const now = new Date();
  const from = monthlyPartition(
    new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - flags.months + 1, 1)),
  ).from;
  const shape = {
    events: flags.events,
    organizations: flags.organizations,
    actors: flags.actors,
    resources: flags.resources,
    from,
    to: now,
  };
  const history = new AuditHistory({ ...shape, seed: flags.seed });
  const phases: Phase[] = [];
  const timed = async <T>(name: string, work: () => Promise<T>, detail: (result: T) => string = () => '') => {
    const t0 = performance.now();
    console.log(`${name}...`);
    const result = await work();
    const phase = { name, seconds: (performance.now() - t0) / 1000, detail: detail(result) };
    phases.push(phase);
    console.log(`${name}: ${formatDuration(phase.seconds)} ${phase.detail}`);
    return result;
  };

  const outcome = await withBenchDatabase(async (db) => {
    // Maintenance (index builds, view refresh) without a statement timeout; the admin reads with one.
    const maintenance = new DataSource(
      dataSourceOptions(db.url, {
        extra: {
          max: 2,
          application_name: 'audit-bench-maintenance',
          options: `-c maintenance_work_mem=${flags['maintenance-work-mem']}`,
        },
      }),
    );
    const reads = new DataSource(
      dataSourceOptions(db.url, {
        extra: {
          max: 2,
          application_name: 'audit-bench-query',
          statement_timeout: flags['statement-timeout'] * 1000,
        },
      }),
    );
    await Promise.all([maintenance.initialize(), reads.initialize()]);
    const exportPool = poolFromDataSource(reads, 1, 'audit-bench-export');
    try {
      return await run(db, maintenance, reads, exportPool);
    } finally {
      await exportPool.end();
      await Promise.all([maintenance.destroy(), reads.destroy()]);
    }
  });

  async function run(
    db: BenchDatabase,
    maintenance: DataSource,
    reads: DataSource,
    exportPool: ReturnType<typeof poolFromDataSource>,
  ) {
    const settings: Array<{ name: string; setting: string; unit: string | null }> = await db.sql
      .query(`SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1) ORDER BY name`, [
        SERVER_SETTINGS,
      ])
      .then((r) => r.rows);
    const partitionNames = await timed(
      'partitions',
      () => createMonthlyPartitions(maintenance, from, now),
      (names) => `${names.length} monthly (${names[0]} .. ${names[names.length - 1]})`,
    );
    const load: LoadResult = await timed(
      'load',
      () =>
        loadHistory(db.url, history, {
          events: flags.events,
          streams: flags.streams,
          maxMinutes: flags['max-load-minutes'],
        }),
      (r) =>
        `${r.events} events, ${Math.round(r.eventsPerSec)} ev/s, ${formatMiB(r.bytes)} of COPY text, ${flags.streams} streams`,
    );
    // One account of the largest organization with a long history (a create and updates spread over the
    // months, reads between them), COPYed like the load: the record the as-of queries rebuild.
    const versioned = await timed(
      'as-of record',
      async () => {
        const built = versionedEvents({
          organization: history.organizations[0],
          versions: flags['as-of-versions'],
          reads: flags['as-of-reads'],
          from,
          to: now,
          seed: flags.seed,
        });
        await copyEvents(db.url, built.events);
        return built.resource;
      },
      (r) =>
        `${r.resourceType} ${r.resourceId} of ${r.organizationId}: ${r.versions} versions and ${r.reads} reads, ` +
        `${r.from.toISOString().slice(0, 10)} .. ${r.to.toISOString().slice(0, 10)}`,
    );
    await timed('vacuum analyze', () => db.sql.query('VACUUM ANALYZE audit_events'));
    const partitionService = new PartitionService(
      new PartitionRepository(maintenance),
      trailConfigFrom(loadConfig({})),
      new Clock(),
      new LifecycleRunRepository(maintenance),
    );
    // The session setting the index builds run with (checked, not assumed from the flag).
    const [{ maintenance_work_mem: indexMemory }] = await maintenance.query('SHOW maintenance_work_mem');
    const indexed = await timed(
      'search indexes',
      () => partitionService.indexClosedPartitions(now),
      (names) =>
        `${names.length} partitions (PartitionService.indexClosedPartitions, maintenance_work_mem ${indexMemory})`,
    );
    const stats = new StatsRepository(maintenance);
    await timed(
      'stats refresh',
      () => stats.refreshAll(),
      (ok) => (ok ? 'StatsRepository.refreshAll (CONCURRENTLY)' : 'lock not taken'),
    );
    const refreshes = await db.sql.query(
      'SELECT view_name, duration_ms FROM audit_stats_refreshes ORDER BY view_name',
    );
    const partitions = await partitionSizes(db);
    const catalog = await Catalog.load(reads);
    const largeRows = Math.max(10_000, Math.round(load.events / 100));

    const lastStatement = recordStatements(reads);
    const events = new EventsRepository(reads);
    const queries: QueryResult[] = await timed(
      'queries',
      () =>
        measureQueries(
          reads,
          [...querySpecs(events, new StatsRepository(reads)), ...asOfSpecs(reads, versioned)],
          lastStatement,
          picker(history, load.sample, { ...measureOptions(), largeRows }, versioned),
          load.events,
          catalog,
          { ...measureOptions(), largeRows },
        ),
      () => `${flags.warmup} warm-up + ${flags.reps} measured reps`,
    );

    const largest = history.organizations[0];
    const filters = {
      organizationId: largest.id,
      from: new Date(now.getTime() - flags.days * DAY_MS),
      to: now,
    };
    const exports: ExportRun[] = await timed(
      'export',
      async () => {
        const done: ExportRun[] = [];
        for (let i = 0; i < flags['export-reps']; i++)
          done.push(await exportOnce(exportPool, events, filters));
        return done;
      },
      (r) => `${r.length} x ${r[0]?.rows ?? 0} rows`,
    );
    const statement = exportStatement(events, filters);
    const exportExplain = await explain(reads, catalog, statement.sql, statement.params, largeRows);
    return {
      settings,
      partitionNames,
      load,
      indexed,
      refreshes: refreshes.rows,
      partitions,
      largeRows,
      queries,
      asOfRecord: versioned,
      export: {
        organization: largest.id,
        organizationEvents: Math.round(largest.share * load.events),
        days: flags.days,
        runs: exports,
        explain: { ...exportExplain, statement },
      },
      migrations: db.migrations,
    };
  }

  function measureOptions() {
    return { reps: flags.reps, warmup: flags.warmup, seed: flags.seed, now, days: flags.days };
  }

  const totalSeconds = (performance.now() - started) / 1000;
  const { load, ...rest } = outcome;
  const file = writeResults(flags.quick ? 'query-quick' : 'query', {
    flags,
    shape,
    totalSeconds,
    phases,
    load: { ...load, sample: undefined },
    ...rest,
  });
  printReport({ phases, totalSeconds, ...outcome }, flags.plans);
  console.log(`\nResults: ${file}`);
}

async function partitionSizes(db: BenchDatabase) {
  const { rows } = await db.sql.query(
    `SELECT c.relname AS name, greatest(c.reltuples, 0)::bigint AS rows,
            pg_relation_size(c.oid) AS heap_bytes, pg_indexes_size(c.oid) AS index_bytes,
            coalesce((SELECT pg_relation_size(i.indexrelid) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                       WHERE i.indrelid = c.oid AND ic.relname = c.relname || '_search_idx'), 0) AS search_index_bytes,
            pg_total_relation_size(c.oid) AS total_bytes
       FROM pg_inherits inh JOIN pg_class c ON c.oid = inh.inhrelid JOIN pg_class p ON p.oid = inh.inhparent
      WHERE p.relname = 'audit_events' ORDER BY c.relname`,
  );
  return rows.map((r) => ({
    name: r.name as string,
    rows: Number(r.rows),
    heapBytes: Number(r.heap_bytes),
    indexBytes: Number(r.index_bytes),
    searchIndexBytes: Number(r.search_index_bytes),
    totalBytes: Number(r.total_bytes),
  }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
