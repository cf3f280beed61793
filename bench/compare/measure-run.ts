import { Client } from 'pg';
import { ServiceProcess } from '../lib/app';
import { waitForAuditWritten } from '../lib/audit-drain';
import { resetAuditEvents } from '../lib/bench-db';
import { busyShare, CpuMeter, machineTicks, mainThreadCpuSeconds, processCpuSeconds } from '../lib/cpu';
import { LoadOptions, LoadResult, runLoad } from '../lib/http-load';
import { AuditRows, countAuditRows, subtractRows, truncateTriggerAudit } from './trigger-audit';
import { Variant } from './variants';
import { OperationCounts, WorkloadDriver } from './workloads';

export interface Run extends LoadResult {
  workload: string;
  variant: Variant['key'];
  rep: number;
  /** Responses by operation, as the load generator saw them. */
  counts: OperationCounts;
  /** Rows the run added to the audit tables (both tables, whatever the variant: (a) must add none). */
  rows: AuditRows;
  /** CPU seconds of the Postgres backends of the benchmark database, and of the variant's service process. */
  postgresCpuSeconds: number | null;
  serviceCpuSeconds: number | null;
  /** Of those, the service's main thread: on a busy machine the thread that serves requests is the bottleneck. */
  mainThreadCpuSeconds: number | null;
  /** Share of the machine's CPU busy while the load ran (all processes, all CPUs; 0..1). */
  machineBusy: number;
}

export interface RunSpec {
  sql: Client;
  service: ServiceProcess;
  variant: Variant;
  driver: WorkloadDriver;
  rep: number;
  load: Omit<LoadOptions, 'baseUrl' | 'durationSeconds'>;
  warmupSeconds: number;
  durationSeconds: number;
}

/**
 * One measured run: every run starts from the same state (audit tables empty, the accounts' dead rows of the
 * previous runs vacuumed, so autovacuum does not land in one variant's run, and a checkpoint, so no run owes
 * the previous one's writes), then the variant switched on, a warm-up, and the measured load. The run ends
 * once every captured event is committed, so the CPU of writing the audit trail is counted also when it
 * happens after the last response (memory mode).
 */
export async function measureRun(spec: RunSpec): Promise<Run> {
  const { sql, service, variant, driver } = spec;
  const load = (durationSeconds: number) => ({ ...spec.load, baseUrl: service.baseUrl, durationSeconds });
  await truncateTriggerAudit(sql);
  await sql.query('VACUUM (ANALYZE) accounts');
  await resetAuditEvents(sql);
  await variant.setUp?.(sql);
  try {
    // The warm-up also takes the first writes after the checkpoint (full-page images in the WAL).
    await runLoad(load(spec.warmupSeconds), driver.request);
    await waitForAuditWritten(sql, service);
    const rowsBefore = await countAuditRows(sql);

    const meter = new CpuMeter(sql);
    await meter.start();
    const serviceCpu = processCpuSeconds(service.pid);
    const mainThreadCpu = mainThreadCpuSeconds(service.pid);
    driver.resetCounts();
    const machineBefore = machineTicks();
    const result = await runLoad(load(spec.durationSeconds), driver.request);
    const machineBusy = busyShare(machineBefore, machineTicks());
    // A copy: the next run's warm-up counts into the driver's object again.
    const counts = structuredClone(driver.counts);
    await waitForAuditWritten(sql, service);
    const cpu = await meter.stop();
    const serviceCpuAfter = processCpuSeconds(service.pid);
    const mainThreadCpuAfter = mainThreadCpuSeconds(service.pid);
    return {
      workload: driver.workload.name,
      variant: variant.key,
      rep: spec.rep,
      ...result,
      counts,
      rows: subtractRows(await countAuditRows(sql), rowsBefore),
      postgresCpuSeconds: cpu.postgresSeconds,
      // /proc counts in 10 ms ticks: more digits would be float noise.
      serviceCpuSeconds:
        serviceCpu === null || serviceCpuAfter === null
          ? null
          : Number((serviceCpuAfter - serviceCpu).toFixed(2)),
      mainThreadCpuSeconds:
        mainThreadCpu === null || mainThreadCpuAfter === null
          ? null
          : Number((mainThreadCpuAfter - mainThreadCpu).toFixed(2)),
      machineBusy: Number(machineBusy.toFixed(3)),
    };
  } finally {
    await variant.tearDown?.(sql);
  }
}
