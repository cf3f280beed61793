import { performance } from 'node:perf_hooks';
import { INestApplicationContext } from '@nestjs/common';
import { exportTable } from '../../src/archive/archive-export';
import { ArchiveRepository } from '../../src/archive/archive.repository';
import { ArchiveTransferRepository } from '../../src/archive/archive-transfer.repository';
import { ARCHIVE_STORAGE } from '../../src/archive/archive.tokens';
import { ArchiveStorage } from '../../src/archive/storage/archive-storage';
import { exportParquet } from '../../src/archive/parquet/parquet-export';
import { RssSampler } from '../lib/memory';
import { writeResults } from '../lib/results';
import { median } from '../lib/stats';
import { formatMiB, formatNumber, printTable } from '../lib/table';

export interface FormatRun {
  seconds: number;
  eventsPerSec: number;
  bytes: number;
  files: number;
  peakRss: number;
}

export interface FormatSummary {
  runs: FormatRun[];
  medianEventsPerSec: number;
  /** (max - min) / median of the events/s of the reps. */
  spread: number;
  minEventsPerSec: number;
  maxEventsPerSec: number;
  bytes: number;
}

const summary = (runs: FormatRun[]): FormatSummary => {
  const rates = runs.map((r) => r.eventsPerSec);
  const mid = median(rates);
  return {
    runs,
    medianEventsPerSec: mid,
    spread: (Math.max(...rates) - Math.min(...rates)) / mid,
    minEventsPerSec: Math.min(...rates),
    maxEventsPerSec: Math.max(...rates),
    bytes: median(runs.map((r) => r.bytes)),
  };
};

/**
 * The export step alone, zstd NDJSON (exportTable) against Parquet (exportParquet: Postgres CSV -> DuckDB ->
 * zstd Parquet per organization and month), same table, same streams, alternated `reps` times (the first of
 * each pair swaps every rep), each written to the store, timed to the last byte stored, then deleted.
 */
export async function compareParquet(
  context: INestApplicationContext,
  table: string,
  reps: number,
  streams: number,
): Promise<{ ndjson: FormatSummary; parquet: FormatSummary; rows: number }> {
  const repository = context.get(ArchiveRepository);
  const transfer = context.get(ArchiveTransferRepository);
  const storage = context.get<ArchiveStorage>(ARCHIVE_STORAGE);
  const columns = await repository.columns(table);
  const ndjson: FormatRun[] = [];
  const parquet: FormatRun[] = [];
  let rows = 0;

  const timed = async (work: () => Promise<{ rows: number; bytes: number; files: number }>) => {
    const rss = new RssSampler();
    rss.start();
    const t0 = performance.now();
    const done = await work();
    const seconds = (performance.now() - t0) / 1000;
    rows = done.rows;
    return {
      seconds,
      eventsPerSec: done.rows / seconds,
      bytes: done.bytes,
      files: done.files,
      peakRss: rss.stop(),
    };
  };
  const runNdjson = () =>
    timed(async () => {
      const stored = await exportTable(transfer, table, columns, storage.upload('bench/ndjson.zst'), {
        compression: 'zstd',
        streams,
      });
      await storage.delete('bench/ndjson.zst');
      return { rows: stored.rows, bytes: stored.bytes, files: 1 };
    });
  const runParquet = () =>
    timed(async () => {
      const { files } = await exportParquet(transfer, table, columns, storage, 'bench/parquet', { streams });
      for (const file of files) await storage.delete(file.key);
      return {
        rows: files.reduce((sum, f) => sum + f.rows, 0),
        bytes: files.reduce((sum, f) => sum + f.bytes, 0),
        files: files.length,
      };
    });

  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? ['ndjson', 'parquet'] : ['parquet', 'ndjson'];
    for (const format of order) {
      const run = format === 'ndjson' ? await runNdjson() : await runParquet();
      (format === 'ndjson' ? ndjson : parquet).push(run);
      console.log(
        `rep ${rep + 1} ${format}: ${formatNumber(run.eventsPerSec)} events/s, ${formatMiB(run.bytes)} in ${run.files} file(s), peak RSS ${formatMiB(run.peakRss)}`,
      );
    }
  }
  return { ndjson: summary(ndjson), parquet: summary(parquet), rows };
}

/** Prints the side-by-side table and writes bench/results/archive-parquet-<stamp>.json. */
export function reportParquet(
  comparison: Awaited<ReturnType<typeof compareParquet>>,
  table: { heap: number; toast: number; total: number },
  payload: object,
): void {
  const heapToast = table.heap + table.toast;
  const { ndjson, parquet } = comparison;
  const row = (name: string, s: FormatSummary) => [
    name,
    s.runs.map((r) => formatNumber(r.eventsPerSec)).join(', '),
    s.medianEventsPerSec,
    `${(s.spread * 100).toFixed(0)}%`,
    formatMiB(s.bytes),
    `${(heapToast / s.bytes).toFixed(1)}x`,
    formatMiB(Math.max(...s.runs.map((r) => r.peakRss))),
  ];
  printTable(
    `export alone, ${formatNumber(comparison.rows)} events: zstd NDJSON vs Parquet (zstd), alternated`,
    ['format', 'events/s per rep', 'median', 'spread', 'size', 'vs heap + TOAST', 'peak RSS'],
    [row('ndjson.zst', ndjson), row('parquet', parquet)],
  );
  console.log(
    `Parquet / NDJSON: size ${(parquet.bytes / ndjson.bytes).toFixed(2)}x, speed ${(parquet.medianEventsPerSec / ndjson.medianEventsPerSec).toFixed(2)}x`,
  );
  const file = writeResults('archive-parquet', {
    ...payload,
    sizeRatioParquetToNdjson: parquet.bytes / ndjson.bytes,
    speedRatioParquetToNdjson: parquet.medianEventsPerSec / ndjson.medianEventsPerSec,
  });
  console.log(`\nResults: ${file}`);
}
