import 'reflect-metadata';
import { benchToken, ServiceProcess, startServiceProcess } from '../lib/app';
import { BenchDatabase, withBenchDatabase } from '../lib/bench-db';
import { parseFlags, withPreset } from '../lib/flags';
import { HTTP_LOAD_FLAGS, runLoad } from '../lib/http-load';
import { rotated } from '../lib/interleave';
import { seedAccounts } from '../lib/seed';
import { formatNumber } from '../lib/table';
import { measureRun, Run } from './measure-run';
import { report } from './report';
import { installTriggerAudit } from './trigger-audit';
import { Variant, variants } from './variants';
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
  });
  return flags.quick
    ? withPreset(flags, { duration: 2, warmup: 1, reps: 2, accounts: 100, churn: 30 })
    : flags;
}
export type Flags = ReturnType<typeof readFlags>;

async function main(): Promise<void> {
  const flags = readFlags();
  const { available, unavailable } = variants(flags.stages, flags.pool);
  const outcome = await withBenchDatabase(async (db) => {
    await installTriggerAudit(db.sql);
    const services = await startServices(db.url, available);
    try {
      return { runs: await benchVariants(db, services, available, flags), migrations: db.migrations };
    } finally {
      await Promise.all(Object.values(services).map((service) => service.stop()));
    }
  });
  report({ ...outcome, flags, variants: available, unavailable });
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

  // JIT, connection pools and Postgres caches warm on every service before the first measured run.
  console.error('Priming the services...');
  const primeSeconds = 2 * flags.warmup;
  for (const driver of drivers) {
    for (const service of Object.values(services)) {
      await runLoad({ ...load, baseUrl: service.baseUrl, durationSeconds: primeSeconds }, driver.request);
    }
  }

  const runs: Run[] = [];
  for (let rep = 1; rep <= flags.reps; rep++) {
    for (const driver of drivers) {
      for (const variant of rotated(list, rep)) {
        const run = await measureRun({
          sql: db.sql,
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
  console.error(
    `  rep ${run.rep}/${flags.reps} ${run.workload} (${run.variant}): ${formatNumber(run.requestsPerSec)} req/s, ` +
      `p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms, rows trigger ${rows.trigger} / events ` +
      `${rows.eventMutations + rows.eventReads}${failures ? `, ${failures} FAILED requests` : ''}`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
