import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  archiveHeadlines,
  compareHeadlines,
  Headline,
  ingestHeadlines,
  overheadHeadlines,
  queryHeadlines,
} from './lib/headlines';
import { newestResults } from './lib/results';
import { Cell, printTable } from './lib/table';

interface Benchmark {
  name: string;
  /** The built script, relative to dist/bench. */
  script: string;
  /** The short version: each benchmark's --quick, trimmed further by flags so all of them fit in ~2 minutes. */
  args: string[];
  /** The name its results file starts with. */
  results: string;
  headlines: (results: never) => Headline[];
}

const BENCHMARKS: Benchmark[] = [
  {
    name: 'ingest',
    script: 'ingest/ingest.bench.js',
    args: ['--quick', '--events', '20000', '--reps', '1'],
    results: 'ingest-quick',
    headlines: ingestHeadlines,
  },
  {
    name: 'overhead',
    script: 'overhead/overhead.bench.js',
    args: ['--quick', '--duration', '2', '--reps', '1'],
    results: 'overhead-quick',
    headlines: overheadHeadlines,
  },
  {
    name: 'query',
    script: 'query/query.bench.js',
    args: ['--quick', '--events', '50000', '--reps', '3', '--warmup', '1', '--export-reps', '1'],
    results: 'query-quick',
    headlines: queryHeadlines,
  },
  {
    name: 'compare',
    script: 'compare/compare.bench.js',
    args: ['--quick', '--reps', '1'],
    results: 'compare-quick',
    headlines: compareHeadlines,
  },
  {
    name: 'archive',
    script: 'archive/archive.bench.js',
    args: ['--quick', '--events', '50000', '--reps', '3', '--export-reps', '1'],
    results: 'archive-quick',
    headlines: archiveHeadlines,
  },
];

/** `npm run bench`: a short version of every benchmark, one after the other, then one summary table. */
async function main(): Promise<void> {
  const rows: Cell[][] = [];
  let failed = 0;
  for (const benchmark of BENCHMARKS) {
    const started = new Date();
    const t0 = performance.now();
    console.log(`\n=== ${benchmark.name}: ${[benchmark.script, ...benchmark.args].join(' ')}`);
    const code = await runScript(join(__dirname, benchmark.script), benchmark.args);
    const seconds = `${benchmark.name} (${((performance.now() - t0) / 1000).toFixed(0)} s)`;
    const results = code === 0 ? newestResults(benchmark.results, started) : null;
    if (!results) {
      failed++;
      rows.push([
        seconds,
        code === 0 ? 'no results file written' : `exited with code ${code}`,
        '-',
        '-',
        'FAIL',
      ]);
      continue;
    }
    for (const line of benchmark.headlines(results.data as never)) rows.push([seconds, ...line]);
  }
  printTable(
    'Benchmarks, short versions (noisy: see bench/README.md for the full runs)',
    ['benchmark', 'measure', 'value', 'target / vs (a)', 'result'],
    rows,
  );
  if (failed > 0) process.exitCode = 1;
}

function runScript(script: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
