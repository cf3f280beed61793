import 'reflect-metadata';
import { benchToken, ServiceProcess, startServiceProcess } from '../lib/app';
import { BENCH_ADMIN_URL, BenchDatabase, withBenchDatabase } from '../lib/bench-db';
import { withOwnPostgres } from '../lib/own-postgres';
import { parseFlags, withPreset } from '../lib/flags';
import { HTTP_LOAD_FLAGS, runLoad } from '../lib/http-load';
import { rotated } from '../lib/interleave';
import { seedAccounts } from '../lib/seed';
import { formatNumber } from '../lib/table';
import { measureRun, Run } from './measure-run';
import { report } from './report';
import { installTriggerAudit } from './trigger-audit';
import { Variant, variants, WalWorkerRef } from './variants';
import { setWalCapture, WalWorker } from './wal-worker';
import { AccountPool, WorkloadDriver, WORKLOADS } from './workloads';

const ORG = 'org_bench';

function readFlags() {
  const flags = parseFlags({
    ...HTTP_LOAD_FLAGS,
    /** Extra accounts that creates and deletes cycle through (reads and updates never touch them). */
    churn: 200,
    quick: false,
    /** Adds (c) stopped after each capture stage (c0, c1, c2): where its cost goes. */
    stages: false,
    /** Every variant's app pool (DATABASE_POOL_MAX); 0: the service's default (10 with --stages). */
    pool: 0,
    /**
     * Adds (e) and (e2), this project in `wal` mode, and runs every variant on a Postgres of the bench's own
     * with wal_level=logical (the machine's server is never reconfigured). --wal=false: the old variants on
     * BENCH_DATABASE_URL's server.
     */
    wal: true,
  });
  return flags.quick
    ? withPreset(flags, { duration: 2, warmup: 1, reps: 2, accounts: 100, churn: 30 })
    : flags;
}
export type Flags = ReturnType<typeof readFlags>;

async function main(): Promise<void> {
  const flags = readFlags();
  let worker: WalWorker | null = null;
  const ref: WalWorkerRef = {
    worker: () => worker ?? fail('the wal worker is not started'),
  };
  const { available, unavailable } = variants(flags.stages, flags.pool, flags.wal ? ref : null);
  const poolEnv: Record<string, string> = flags.pool ? { DATABASE_POOL_MAX: String(flags.pool) } : {};
  const bench = (adminUrl: string) =>
    withBenchDatabase(async (db) => {
      await installTriggerAudit(db.sql);
      const services: Services = {};
      try {
        // The worker first: it sets up the publication, slot and session trigger the (e) processes expect.
        if (flags.wal) worker = await WalWorker.start(db.url, poolEnv);
        Object.assign(services, await startServices(db.url, available));
        if (worker) {
          // Deferred and (e)'s database side off until (e)'s runs (see variants.ts).
          await worker.pause(db.sql);
          await setWalCapture(db.sql, false);
        }
        return { runs: await benchVariants(db, services, available, flags), migrations: db.migrations };
      } catch (error) {
        if (worker) console.error(`The wal worker's output:\n${worker.service.output().slice(-4000)}`);
        throw error;
      } finally {
        await Promise.allSettled([
          ...Object.values(services).map((service) => service.stop()),
          worker?.stop(),
        ]);
      }
    }, adminUrl);
  const outcome = flags.wal
    ? await withOwnPostgres(async (pg) => ({
        ...(await bench(pg.url)),
        server: { own: true, settings: pg.settings },
      }))
    : { ...(await bench(BENCH_ADMIN_URL)), server: { own: false, settings: {} } };
  report({ ...outcome, flags, variants: available, unavailable });
}

function fail(message: string): never {
  throw new Error(message);
}

type Services = Partial<Record<Variant['key'], ServiceProcess>>;

/** One service process per variant, all on the same database (same accounts, same Postgres caches). */
async function startServices(url: string, list: Variant[]): Promise<Services> {
  const services: Services = {};
  for (const variant of list) {
    services[variant.key] = await startServiceProcess(url, variant.env, variant.nodeArgs);
  }
  return services;
}

async function benchVariants(
  db: BenchDatabase,
  services: Services,
  list: Variant[],
  flags: Flags,
): Promise<Run[]> {
  const token = await benchToken({ sub: 'bench-user', org: ORG });
  const total = flags.accounts + flags.churn;
  console.error(`Seeding ${total} accounts...`);
  const ids = await seedAccounts(services.a!.baseUrl, token, total);
  const pool = new AccountPool(ids.slice(0, flags.accounts), ids.slice(flags.accounts));
  const drivers = WORKLOADS.map((workload) => new WorkloadDriver(workload, pool));
  const load = { token, connections: flags.connections };
  const { rows } = await db.sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const benchPid = rows[0].pid;

  // JIT, connection pools and Postgres caches warm on every service (and (e)'s worker) before the first
  // measured run, each variant switched on as in its runs.
  console.error('Priming the services...');
  const primeSeconds = 2 * flags.warmup;
  for (const driver of drivers) {
    for (const variant of list) {
      await variant.setUp?.(db.sql);
      const baseUrl = services[variant.key]!.baseUrl;
      await runLoad({ ...load, baseUrl, durationSeconds: primeSeconds }, driver.request);
      await variant.tearDown?.(db.sql);
    }
  }

  const runs: Run[] = [];
  for (let rep = 1; rep <= flags.reps; rep++) {
    for (const driver of drivers) {
      for (const variant of rotated(list, rep)) {
        const run = await measureRun({
          sql: db.sql,
          benchPid,
          service: services[variant.key]!,
          variant,
          driver,
          rep,
          load,
          warmupSeconds: flags.warmup,
          durationSeconds: flags.duration,
        });
        runs.push(run);
        logRun(run, flags);
      }
    }
  }
  return runs;
}

function logRun(run: Run, flags: Flags): void {
  const failures = run.non2xx + run.errors;
  const rows = run.rows;
  const { drain, requestIds: ids } = run;
  console.error(
    `  rep ${run.rep}/${flags.reps} ${run.workload} (${run.variant}): ${formatNumber(run.requestsPerSec)} req/s, ` +
      `p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms, rows trigger ${rows.trigger} / events ` +
      `${rows.eventMutations + rows.eventReads}${failures ? `, ${failures} FAILED requests` : ''}` +
      (drain
        ? `; drain ${drain.completed ? '' : 'INCOMPLETE '}${drain.events} events in ${drain.seconds} s, ` +
          `worker ${drain.workerCpuSeconds} CPU s, PG ${JSON.stringify(drain.postgresCpu)}`
        : '') +
      (ids
        ? `; request ids ${ids.mutations}: missing ${ids.missing}, duplicated ${ids.duplicated}, ` +
          `uncounted ${ids.uncounted}, database ${ids.database}`
        : ''),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
