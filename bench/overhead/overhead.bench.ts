import 'reflect-metadata';
import autocannon from 'autocannon';
import { setTimeout as sleep } from 'node:timers/promises';
import { benchToken, ServiceProcess, startServiceProcess } from '../lib/app';
import { waitForEmptyBuffer } from '../lib/audit-drain';
import { BenchDatabase, countAuditEvents, resetAuditEvents, withBenchDatabase } from '../lib/bench-db';
import { parseFlags, withPreset } from '../lib/flags';
import {
  getAccountRequest,
  HTTP_LOAD_FLAGS,
  LoadOptions,
  LoadResult,
  patchAccountRequest,
  runLoad,
} from '../lib/http-load';
import { rotated } from '../lib/interleave';
import { writeResults } from '../lib/results';
import { median } from '../lib/stats';
import { seedAccounts } from '../lib/seed';
import { formatNumber, formatRatio, printTable } from '../lib/table';
import { withOwnPostgres } from '../lib/own-postgres';
import { setWalCapture, WAL_ENV } from '../compare/wal-worker';

const ORG = 'org_bench';
const TARGETS: Record<string, number> = { 'GET /accounts/:id': 0.95, 'PATCH /accounts/:id': 0.9 };

/**
 * `audited-plain`: audited with personal-data encryption off (AUDIT_PERSONAL_KEYS=off), to show its cost.
 * `audited-wal`: mutations captured from the WAL (DEMO_AUDIT_CONSISTENCY=wal), its slot read by the same
 * process: everything on this machine, all CPU counted. Every variant runs on an own Postgres with
 * wal_level=logical (the machine's server is never reconfigured); the captured table's replica identity and
 * session trigger are on only during audited-wal's runs, so the others do not pay for them.
 */
const VARIANTS = ['audited', 'audited-plain', 'audited-wal', 'unaudited'] as const;
type Variant = (typeof VARIANTS)[number];
const AUDITED: Array<Exclude<Variant, 'unaudited'>> = ['audited', 'audited-plain', 'audited-wal'];
/** Slot backlog below which the wal consumer counts as caught up between runs. */
const SLOT_SETTLED_BYTES = 256 * 1024;

interface Scenario {
  name: string;
  request: autocannon.Request;
}

interface Run extends LoadResult {
  scenario: string;
  variant: Variant;
  rep: number;
}

function readFlags() {
  const flags = parseFlags({
    ...HTTP_LOAD_FLAGS,
    quick: false,
  });
  return flags.quick ? withPreset(flags, { duration: 3, warmup: 1, reps: 2, accounts: 100 }) : flags;
}
type Flags = ReturnType<typeof readFlags>;

async function main(): Promise<void> {
  const flags = readFlags();
  const { runs, migrations } = await withOwnPostgres((pg) =>
    withBenchDatabase(async (db) => {
      // The services share the database: same accounts, same cache; only the switches differ.
      const services = {} as Record<Variant, ServiceProcess>;
      try {
        services['audited-wal'] = await startServiceProcess(db.url, { ...WAL_ENV }); // sets up the slot first
        services.audited = await startServiceProcess(db.url, { AUDIT_DISABLED: 'false' });
        services['audited-plain'] = await startServiceProcess(db.url, {
          AUDIT_DISABLED: 'false',
          AUDIT_PERSONAL_KEYS: 'off',
        });
        services.unaudited = await startServiceProcess(db.url, { AUDIT_DISABLED: 'true' });
        await walSide(db, false);
        return { runs: await benchServices(db, services, flags), migrations: db.migrations };
      } finally {
        await Promise.all(Object.values(services).map((service) => service.stop()));
      }
    }, pg.url),
  );
  report(runs, flags, migrations);
}

async function benchServices(db: BenchDatabase, services: Record<Variant, ServiceProcess>, flags: Flags) {
  const token = await benchToken({ sub: 'bench-user', org: ORG });
  console.error(`Seeding ${flags.accounts} accounts...`);
  const ids = await seedAccounts(services.unaudited.baseUrl, token, flags.accounts);
  await expectSwitchHonoured(db);
  const scenarios: Scenario[] = [
    { name: 'GET /accounts/:id', request: getAccountRequest(ids) },
    { name: 'PATCH /accounts/:id', request: patchAccountRequest(ids) },
  ];
  const loadOn = (variant: Variant, durationSeconds = flags.duration): LoadOptions => ({
    baseUrl: services[variant].baseUrl,
    token,
    connections: flags.connections,
    durationSeconds,
  });
  await prime(scenarios, (variant) => loadOn(variant, Math.max(3, flags.warmup)));
  const runs: Run[] = [];
  for (let rep = 1; rep <= flags.reps; rep++) {
    for (const scenario of scenarios) {
      for (const variant of rotated(VARIANTS, rep)) {
        await settle(db, services);
        await walSide(db, variant === 'audited-wal');
        await runLoad(loadOn(variant, flags.warmup), scenario.request);
        const result = await runLoad(loadOn(variant), scenario.request);
        runs.push({ scenario: scenario.name, variant, rep, ...result });
        if (variant === 'audited-wal') await slotCaughtUp(db);
        await walSide(db, false);
        logRun(runs[runs.length - 1], flags);
      }
    }
  }
  return runs;
}

/** Once before the measured reps: JIT, connection pools and Postgres caches warm on both services. */
async function prime(scenarios: Scenario[], load: (variant: Variant) => LoadOptions): Promise<void> {
  console.error('Priming both services...');
  for (const scenario of scenarios) {
    for (const variant of VARIANTS) await runLoad(load(variant), scenario.request);
  }
}

/**
 * The wal variant's database side, on for its runs only: the table in the publication (other variants' writes
 * are then not decoded, nor recorded as database writes), its full replica identity and session trigger.
 */
async function walSide(db: BenchDatabase, on: boolean): Promise<void> {
  const { rowCount } = await db.sql.query(
    `SELECT 1 FROM pg_publication_tables WHERE pubname = 'nest_audit_wal' AND tablename = 'accounts'`,
  );
  if (on && !rowCount) await db.sql.query(`ALTER PUBLICATION nest_audit_wal ADD TABLE accounts`);
  if (!on && rowCount) await db.sql.query(`ALTER PUBLICATION nest_audit_wal DROP TABLE accounts`);
  await setWalCapture(db.sql, on);
}

/** The wal consumer has stored what its runs committed (its late COPYs must not land in the next run). */
async function slotCaughtUp(db: BenchDatabase, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.sql.query<{ lag: string | null }>(
      `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag
         FROM pg_replication_slots WHERE slot_name = 'nest_audit_wal'`,
    );
    if (Number(rows[0]?.lag ?? 0) < SLOT_SETTLED_BYTES) return;
    if (Date.now() > deadline) throw new Error('The wal consumer did not catch up with its slot');
    await sleep(200);
  }
}

/** The seeding went through the unaudited service: if anything was recorded, the switch does not work. */
async function expectSwitchHonoured(db: BenchDatabase): Promise<void> {
  await sleep(500);
  const recorded = await countAuditEvents(db.sql);
  if (recorded > 0)
    throw new Error(`AUDIT_DISABLED=true is not honoured: seeding recorded ${recorded} events`);
}

/** Lets the audited services write what they captured, then empties the table, so every run starts alike. */
async function settle(db: BenchDatabase, services: Record<Variant, ServiceProcess>): Promise<void> {
  for (const variant of AUDITED) await waitForEmptyBuffer(services[variant]);
  await resetAuditEvents(db.sql);
}

function logRun(run: Run, flags: Flags): void {
  const failures = run.non2xx + run.errors;
  console.error(
    `  rep ${run.rep}/${flags.reps} ${run.scenario} ${run.variant}: ${formatNumber(run.requestsPerSec)} req/s, ` +
      `p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms${failures ? `, ${failures} FAILED requests` : ''}`,
  );
}

interface Summary {
  scenario: string;
  variant: Variant;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
}

function summarize(runs: Run[]): Summary[] {
  const keys = [...new Set(runs.map((r) => `${r.scenario}|${r.variant}`))];
  return keys.map((key) => {
    const group = runs.filter((r) => `${r.scenario}|${r.variant}` === key);
    return {
      scenario: group[0].scenario,
      variant: group[0].variant,
      requestsPerSec: median(group.map((r) => r.requestsPerSec)),
      p50Ms: median(group.map((r) => r.p50Ms)),
      p99Ms: median(group.map((r) => r.p99Ms)),
      failures: group.reduce((sum, r) => sum + r.non2xx + r.errors, 0),
    };
  });
}

interface Ratio {
  scenario: string;
  variant: Exclude<Variant, 'unaudited'>;
  target: number;
  /** Median req/s audited over median req/s unaudited. */
  ratio: number;
  /** The same within each rep (the two runs were adjacent in time): shows how much noise there is. */
  perRep: number[];
  /** Of the audited variant and of the unaudited one. */
  p50Ms: [number, number];
  p99Ms: [number, number];
}

function ratiosOf(summaries: Summary[], runs: Run[]): Ratio[] {
  return Object.entries(TARGETS).flatMap(([scenario, target]) =>
    AUDITED.map((variant) => {
      const of = (v: Variant) => summaries.find((s) => s.scenario === scenario && s.variant === v)!;
      const rps = (v: Variant, rep: number) =>
        runs.find((r) => r.scenario === scenario && r.variant === v && r.rep === rep)!.requestsPerSec;
      const reps = [...new Set(runs.map((r) => r.rep))];
      return {
        scenario,
        variant,
        target,
        ratio: of(variant).requestsPerSec / of('unaudited').requestsPerSec,
        perRep: reps.map((rep) => Number((rps(variant, rep) / rps('unaudited', rep)).toFixed(3))),
        p50Ms: [of(variant).p50Ms, of('unaudited').p50Ms] as [number, number],
        p99Ms: [of(variant).p99Ms, of('unaudited').p99Ms] as [number, number],
      };
    }),
  );
}

function report(runs: Run[], flags: Flags, migrations: string[]): void {
  const summaries = summarize(runs);
  const ratios = ratiosOf(summaries, runs);
  printTable(
    `HTTP overhead: ${flags.connections} connections, ${flags.duration} s (+${flags.warmup} s warm-up) ` +
      `x ${flags.reps} reps, ${flags.accounts} accounts (medians)`,
    ['endpoint', 'variant', 'req/s', 'p50 ms', 'p99 ms', 'failed'],
    summaries.map((s) => [s.scenario, s.variant, s.requestsPerSec, s.p50Ms, s.p99Ms, s.failures]),
  );
  printTable(
    'Audited / unaudited (audited-plain: personal-data encryption off; audited-wal: mutations from the WAL)',
    [
      'endpoint',
      'variant',
      'req/s ratio',
      'target',
      'result',
      'per rep',
      'median per rep',
      'p50 ms a/u',
      'p99 ms a/u',
    ],
    ratios.map((r) => [
      r.scenario,
      r.variant,
      formatRatio(r.ratio),
      `>= ${formatRatio(r.target)}`,
      r.ratio >= r.target ? 'PASS' : 'FAIL',
      r.perRep.map((x) => x.toFixed(2)).join(' '),
      formatRatio(median(r.perRep)),
      `${r.p50Ms[0]} / ${r.p50Ms[1]}`,
      `${r.p99Ms[0]} / ${r.p99Ms[1]}`,
    ]),
  );
  const file = writeResults(flags.quick ? 'overhead-quick' : 'overhead', {
    params: flags,
    migrations,
    summary: summaries,
    ratios: ratios.map((r) => ({ ...r, ratio: Number(r.ratio.toFixed(3)) })),
    runs,
  });
  console.log(`\nResults: ${file}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
