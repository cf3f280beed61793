import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { ARCHIVE_COMPRESSIONS, ArchiveCompression, isArchiveCompression } from '../../src/archive/archive-codec';
import { exportTable } from '../../src/archive/archive-export';
import { ArchiveRepository } from '../../src/archive/archive.repository';
import { ArchiveTransferRepository } from '../../src/archive/archive-transfer.repository';
import { ArchiveCheckpoint, ArchiveService } from '../../src/archive/archive.service';
import { ARCHIVE_STORAGE } from '../../src/archive/archive.tokens';
import { ArchiveStorage } from '../../src/archive/storage/archive-storage';
import { CliModule } from '../../src/cli/cli.module';
import { loadConfig } from '../../src/config/environment';
import { dataSourceOptions } from '../../demo/data-source-options';
import { monthlyPartition } from '../../src/partitions/partition-naming';
import { PartitionRepository } from '../../src/partitions/partition.repository';
import { PartitionService } from '../../src/partitions/partition.service';
import { withBenchDatabase } from '../lib/bench-db';
import { barChartSvg } from '../lib/chart';
import { AuditHistory } from '../lib/event-history';
import { parseFlags, withPreset } from '../lib/flags';
import { RssSampler } from '../lib/memory';
import { resultStamp, writeBenchFile, writeResults } from '../lib/results';
import { median } from '../lib/stats';
import { Cell, formatMiB, formatNumber, printTable } from '../lib/table';
import { loadHistory } from '../query/load';
import { compareParquet, reportParquet } from './parquet-vs-ndjson';

/**
 * bench/archive: how fast a closed partition is archived (COPY -> gzip NDJSON -> SHA-256 -> file), how
 * much smaller the archive is than the table, and how long partition maintenance takes with 100
 * partitions and nothing to do.
 *
 *   npm run bench:archive               1M events in one month
 *   npm run bench:archive -- --quick    200k events
 *   npm run bench:archive -- --compression zstd    the archive run with ARCHIVE_COMPRESSION=zstd
 *   npm run bench:archive -- --parquet --events 300000    zstd NDJSON vs Parquet exports only, alternated
 */
const parsed = parseFlags({
  events: 1_000_000,
  partitions: 100,
  reps: 7,
  seed: 7,
  /** Of the archive run (ARCHIVE_COMPRESSION); the export alone is measured with every compression. */
  compression: 'gzip',
  /** ARCHIVE_EXPORT_STREAMS of the archive run and of the export alone (brotli always exports with one). */
  streams: 2,
  /** Side-by-side repetitions of the export alone with one stream and with --streams. */
  'export-reps': 3,
  /** Only compare zstd NDJSON with Parquet (ARCHIVE_FORMAT=parquet) exports, --parquet-reps pairs. */
  parquet: false,
  'parquet-reps': 5,
  quick: false,
});
if (!isArchiveCompression(parsed.compression))
  throw new Error(`--compression must be one of ${ARCHIVE_COMPRESSIONS.join(', ')}`);
const flags = parsed.quick ? withPreset(parsed, { events: 200_000, reps: 5, 'export-reps': 2 }) : parsed;
const compression: ArchiveCompression = parsed.compression;

const TARGETS = { eventsPerSec: 100_000, ratio: 5, maintenanceMs: 1000 };

async function main(): Promise<void> {
  const now = new Date();
  // A month 15 months ago: past the warm window, so one archive run takes it hot -> warm -> cold.
  const month = monthlyPartition(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 15, 1)));
  const dir = mkdtempSync(join(tmpdir(), 'audit-bench-archive-'));
  try {
    const results = await withBenchDatabase(async (db) => {
      const dataSource = await new DataSource(dataSourceOptions(db.url, { extra: { max: 2 } })).initialize();
      const partitions = new PartitionRepository(dataSource);
      await partitions.create(dataSource.manager, month);

      console.log(`Loading ${formatNumber(flags.events)} events into ${month.name}...`);
      const history = new AuditHistory({
        events: flags.events,
        organizations: 50,
        actors: 2000,
        resources: 20_000,
        from: month.from,
        to: new Date(month.to.getTime() - 1000),
        seed: flags.seed,
      });
      const load = await loadHistory(db.url, history, { events: flags.events, streams: 2, maxMinutes: 30 });
      await db.sql.query(`VACUUM ANALYZE "${month.name}"`);
      const { rows } = await db.sql.query(
        `SELECT pg_relation_size(c.oid) AS heap, coalesce(pg_total_relation_size(c.reltoastrelid), 0) AS toast,
                pg_total_relation_size(c.oid) AS total FROM pg_class c WHERE c.relname = $1`,
        [month.name],
      );
      const table = {
        heap: Number(rows[0].heap),
        toast: Number(rows[0].toast),
        total: Number(rows[0].total),
      };
      await dataSource.destroy();

      const config = loadConfig({
        DATABASE_URL: db.url,
        ARCHIVE_URL: pathToFileURL(dir).href,
        ARCHIVE_COMPRESSION: flags.compression,
        ARCHIVE_EXPORT_STREAMS: String(flags.streams),
        LOG_LEVEL: 'warn',
      });
      const context = await NestFactory.createApplicationContext(CliModule.forRoot(config, db.url), {
        logger: ['error', 'warn'],
      });
      try {
        if (flags.parquet) {
          const { sample: _sample, ...loaded } = load;
          const comparison = await compareParquet(context, month.name, flags['parquet-reps'], flags.streams);
          return { mode: 'parquet' as const, load: loaded, table, parquet: comparison };
        }
        const codecs = await measureCodecs(context, month.name);
        const streams = await measureStreams(context, month.name);
        const archive = await measureArchive(context);
        const maintenance = await measureMaintenance(context, db.sql, flags.partitions, flags.reps);
        // The loader's sample of event ids is for by-id lookups (bench/query): not worth keeping here.
        const { sample: _sample, ...loaded } = load;
        return { mode: 'archive' as const, load: loaded, table, codecs, streams, archive, maintenance };
      } finally {
        await context.close();
      }
    });

    if (results.mode === 'parquet') return reportParquet(results.parquet, results.table, { flags, ...results });
    const { table, codecs, streams, archive, maintenance } = results;
    const heapToast = table.heap + table.toast;
    const ratio = heapToast / archive.bytes;
    printTable(
      'export alone (COPY -> compress -> SHA-256 -> file), per compression',
      ['compression', 'events/s', 'archive', 'vs heap + TOAST', 'peak RSS'],
      codecs.map((c) => [
        c.compression,
        c.eventsPerSec,
        formatMiB(c.bytes),
        `${(heapToast / c.bytes).toFixed(1)}x`,
        formatMiB(c.peakRss),
      ]),
    );
    printTable(
      `export alone (${streams.compression}), one stream vs ${streams.streams}, alternated`,
      ['streams', 'events/s per rep', 'median', 'ratio'],
      [
        ['1', streams.oneStream.map(formatNumber).join(', '), median(streams.oneStream), '1.00x'],
        [
          String(streams.streams),
          streams.manyStreams.map(formatNumber).join(', '),
          median(streams.manyStreams),
          `${streams.ratio.toFixed(2)}x`,
        ],
      ],
    );
    printTable(
      `bench/archive: ${formatNumber(archive.rows)} events, machine shared (figures are noisy)`,
      ['measure', 'value', 'target', 'result'],
      [
        [
          `export rate in the archive run, events/s (${compression}, ${flags.streams} streams)`,
          archive.eventsPerSec,
          `>= ${formatNumber(TARGETS.eventsPerSec)}`,
          archive.eventsPerSec >= TARGETS.eventsPerSec ? 'met' : 'NOT met',
        ],
        ['read-back verification, events/s', archive.verifyEventsPerSec, '-', '-'],
        ['whole run (warm, export, verify, drop), s', archive.runSeconds, '-', '-'],
        ['table heap + TOAST', formatMiB(heapToast), '-', '-'],
        ['table with indexes', formatMiB(table.total), '-', '-'],
        [`archive (${flags.compression} NDJSON)`, formatMiB(archive.bytes), '-', '-'],
        ...codecs.map((c): Cell[] => [
          `${c.compression} archive vs heap + TOAST`,
          `${(heapToast / c.bytes).toFixed(1)}x`,
          `>= ${TARGETS.ratio}x`,
          heapToast / c.bytes >= TARGETS.ratio ? 'met' : 'NOT met',
        ]),
        ['peak RSS during the run', formatMiB(archive.peakRss), '-', '-'],
        [
          `maintenance, ${maintenance.partitions} partitions, nothing to do, median ms`,
          maintenance.medianMs,
          `< ${TARGETS.maintenanceMs}`,
          maintenance.medianMs < TARGETS.maintenanceMs ? 'met' : 'NOT met',
        ],
      ],
    );
    const name = flags.quick ? 'archive-quick' : 'archive';
    const stamp = resultStamp();
    const file = writeResults(
      name,
      {
        flags,
        targets: TARGETS,
        ...results,
        compressionVsHeapToast: ratio,
        codecRatiosVsHeapToast: Object.fromEntries(
          results.codecs.map((c) => [c.compression, heapToast / c.bytes]),
        ),
        compressionVsTotal: table.total / archive.bytes,
      },
      stamp,
    );
    const chart = barChartSvg({
      title: `Archive export, ${formatNumber(archive.rows)} events in one partition`,
      subtitle: `npm run bench:archive -- ${process.argv.slice(2).join(' ')} · ${stamp}`,
      panels: [
        {
          title: `Export alone, events/s (${flags.streams} streams; brotli 1)`,
          categories: codecs.map((c) => c.compression),
          series: [{ name: 'events/s', values: codecs.map((c) => Math.round(c.eventsPerSec)) }],
        },
        {
          title: `${compression}: 1 vs ${flags.streams} streams, events/s (median)`,
          categories: ['export alone', 'archive run'],
          series: [
            { name: '1 stream', values: [Math.round(median(streams.oneStream)), null] },
            {
              name: `${flags.streams} streams`,
              values: [Math.round(median(streams.manyStreams)), Math.round(archive.eventsPerSec)],
            },
          ],
        },
        {
          title: 'Smaller than heap + TOAST (x)',
          categories: codecs.map((c) => c.compression),
          series: [{ name: 'ratio', values: codecs.map((c) => heapToast / c.bytes) }],
          decimals: 1,
        },
      ],
    });
    const svg = writeBenchFile(join('bench', 'results', `${name}-${stamp}.svg`), chart);
    if (!flags.quick) writeBenchFile(join('bench', 'charts', 'archive.svg'), chart);
    console.log(`\nResults: ${file}\nChart: ${svg}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The export step alone on the same table (nothing is dropped), once per compression. */
async function measureCodecs(context: INestApplicationContext, table: string) {
  const results = [];
  for (const compression of ARCHIVE_COMPRESSIONS)
    results.push(
      await measureExport(context, table, compression, compression === 'brotli' ? 1 : flags.streams),
    );
  return results;
}

/**
 * The export alone with one stream and with --streams, side by side: alternated --export-reps times with
 * the archive run's compression, so both see the same machine.
 */
async function measureStreams(context: INestApplicationContext, table: string) {
  const one: number[] = [];
  const many: number[] = [];
  for (let rep = 0; rep < flags['export-reps']; rep++) {
    one.push((await measureExport(context, table, compression, 1)).eventsPerSec);
    many.push((await measureExport(context, table, compression, flags.streams)).eventsPerSec);
  }
  return {
    compression,
    streams: flags.streams,
    oneStream: one,
    manyStreams: many,
    ratio: median(many) / median(one),
  };
}

async function measureExport(
  context: INestApplicationContext,
  table: string,
  compression: ArchiveCompression,
  streams: number,
) {
  const repository = context.get(ArchiveRepository);
  const storage = context.get<ArchiveStorage>(ARCHIVE_STORAGE);
  const columns = await repository.columns(table);
  const rss = new RssSampler();
  rss.start();
  const t0 = performance.now();
  try {
    const stored = await exportTable(context.get(ArchiveTransferRepository), table, columns, storage.upload(`bench/${compression}`), {
      compression,
      streams,
    });
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `Export with ${compression}, ${streams} stream(s): ${formatNumber(stored.rows / seconds)} events/s, ${formatMiB(stored.bytes)}`,
    );
    return {
      compression,
      streams,
      rows: stored.rows,
      bytes: stored.bytes,
      seconds,
      eventsPerSec: stored.rows / seconds,
      peakRss: rss.stop(),
    };
  } finally {
    await storage.delete(`bench/${compression}`);
  }
}

/** One archive run (default compression), timed step by step through the service's checkpoints. */
async function measureArchive(context: INestApplicationContext) {
  const service = context.get(ArchiveService);
  const marks: Partial<Record<ArchiveCheckpoint, number>> = {};
  service.checkpoint = async (step) => {
    marks[step] = performance.now();
  };
  const rss = new RssSampler();
  rss.start();
  const started = performance.now();
  const report = await service.run();
  const runSeconds = (performance.now() - started) / 1000;
  const peakRss = rss.stop();
  if (!report || report.archived.length !== 1)
    throw new Error(`expected one archive, got ${JSON.stringify(report)}`);
  const [archived] = report.archived;
  const rows = archived.rows!;
  const exportSeconds = (marks.uploaded! - marks['export-started']!) / 1000;
  const verifySeconds = (marks.verified! - marks.exported!) / 1000;
  console.log(
    `Archived ${formatNumber(rows)} rows in ${exportSeconds.toFixed(2)} s (verify ${verifySeconds.toFixed(2)} s)`,
  );
  return {
    rows,
    bytes: archived.bytes!,
    exportSeconds,
    eventsPerSec: rows / exportSeconds,
    verifySeconds,
    verifyEventsPerSec: rows / verifySeconds,
    runSeconds,
    peakRss,
  };
}

/** Maintenance runs with `count` monthly partitions in place and nothing to create or move. */
async function measureMaintenance(
  context: INestApplicationContext,
  sql: import('pg').Client,
  count: number,
  reps: number,
) {
  const service = context.get(PartitionService);
  const partitions = context.get(PartitionRepository);
  const now = new Date();
  const existing = (await partitions.partitions()).filter((p) => p.from).length;
  await sql.query(`
    DO $$
    BEGIN
      FOR i IN 1..${count - existing} LOOP
        EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
          'audit_events_p' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => i), 'YYYY_MM'),
          (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => i)) AT TIME ZONE 'UTC',
          (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => i - 1)) AT TIME ZONE 'UTC');
      END LOOP;
    END $$`);
  const total = (await partitions.partitions()).length;
  const first = await service.maintain();
  if (!first || first.created.length + first.moved.length > 0)
    throw new Error(`maintenance was expected to have nothing to do: ${JSON.stringify(first)}`);
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await service.maintain();
    times.push(performance.now() - t0);
  }
  console.log(
    `Maintenance with ${total} partitions (DEFAULT included): ${times.map((t) => t.toFixed(1)).join(', ')} ms (${now.toISOString()})`,
  );
  return { partitions: total, timesMs: times, medianMs: median(times) };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
