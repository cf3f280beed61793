import { Client } from 'pg';
import { ServiceProcess } from '../lib/app';
import { waitForAuditWritten } from '../lib/audit-drain';
import { resetAuditEvents } from '../lib/bench-db';
import { BackendCpu, BackendCpuMeter, sumCpu } from '../lib/backend-cpu';
import { busyShare, machineTicks, mainThreadCpuSeconds, processCpuSeconds } from '../lib/cpu';
import { LoadOptions, LoadResult, runLoad } from '../lib/http-load';
import { checkRequestIds, RequestIdCheck } from './request-ids';
import { AuditRows, countAuditRows, subtractRows, truncateTriggerAudit } from './trigger-audit';
import { Variant } from './variants';
import { backendGroup, currentLsn, Drain } from './wal-worker';
import { OperationCounts, WorkloadDriver } from './workloads';

export interface Run extends LoadResult {
  workload: string;
  variant: Variant['key'];
  rep: number;
  /** Responses by operation, as the load generator saw them. */
  counts: OperationCounts;
  /** Rows the run added to the audit tables (both tables, whatever the variant: (a) must add none). */
  rows: AuditRows;
  /**
   * CPU seconds of the Postgres backends of the benchmark database in the measured span (the bench's own
   * connection left out), in all and by group (sessions; walsender: decoding the slot; walWorker: (e)'s worker).
   */
  postgresCpuSeconds: number | null;
  postgresCpu: BackendCpu | null;
  /** CPU seconds of the variant's service process, and of its worker process ((e2) only). */
  serviceCpuSeconds: number | null;
  workerCpuSeconds: number | null;
  /** Of those, the service's main thread: on a busy machine the thread that serves requests is the bottleneck. */
  mainThreadCpuSeconds: number | null;
  /** Share of the machine's CPU busy while the load ran (all processes, all CPUs; 0..1). */
  machineBusy: number;
  /** (e): the deferred worker's drain of the span's backlog, after the span. */
  drain?: Drain;
  /** (e), (e2): each successful mutation's event, by request id (warm-up and span). */
  requestIds?: RequestIdCheck;
}

export interface RunSpec {
  sql: Client;
  /** Backend pid of `sql`, left out of the CPU figures (its polls are the bench's, not the variant's). */
  benchPid: number;
  service: ServiceProcess;
  variant: Variant;
  driver: WorkloadDriver;
  rep: number;
  load: Omit<LoadOptions, 'baseUrl' | 'durationSeconds'>;
  warmupSeconds: number;
  durationSeconds: number;
}

const seconds = (before: number | null, after: number | null) =>
  // /proc counts in 10 ms ticks: more digits would be float noise.
  before === null || after === null ? null : Number((after - before).toFixed(2));

/**
 * One measured run: every run starts from the same state (audit tables empty, the accounts' dead rows of the
 * previous runs vacuumed, so autovacuum does not land in one variant's run, and a checkpoint, so no run owes
 * the previous one's writes), then the variant switched on, a warm-up, and the measured load. The run ends
 * once every captured event is committed, so the CPU of writing the audit trail is counted also when it
 * happens after the last response (memory mode, (e2)'s worker). (e)'s deferred worker is resumed after the
 * span and its drain measured apart.
 */
export async function measureRun(spec: RunSpec): Promise<Run> {
  const { sql, service, variant, driver } = spec;
  const load = (durationSeconds: number) => ({ ...spec.load, baseUrl: service.baseUrl, durationSeconds });
  const meter = () => new BackendCpuMeter(sql, backendGroup, new Set([spec.benchPid]));
  await truncateTriggerAudit(sql);
  await sql.query('VACUUM (ANALYZE) accounts');
  await resetAuditEvents(sql);
  await variant.setUp?.(sql);
  try {
    driver.resetRequestIds();
    // The warm-up also takes the first writes after the checkpoint (full-page images in the WAL).
    await runLoad(load(spec.warmupSeconds), driver.request);
    await waitForAuditWritten(sql, service);
    await variant.afterWarmup?.(sql);
    const rowsBefore = await countAuditRows(sql);

    const span = meter();
    await span.start();
    const workerPid = variant.workerPid?.() ?? null;
    const serviceCpu = processCpuSeconds(service.pid);
    const workerCpu = workerPid === null ? null : processCpuSeconds(workerPid);
    const mainThreadCpu = mainThreadCpuSeconds(service.pid);
    driver.resetCounts();
    const machineBefore = machineTicks();
    const result = await runLoad(load(spec.durationSeconds), driver.request);
    const machineBusy = busyShare(machineBefore, machineTicks());
    // A copy: the next run's warm-up counts into the driver's object again.
    const counts = structuredClone(driver.counts);
    await waitForAuditWritten(sql, service);
    await variant.settle?.(sql);
    const postgresCpu = await span.stop();
    const serviceCpuAfter = processCpuSeconds(service.pid);
    const workerCpuAfter = workerPid === null ? null : processCpuSeconds(workerPid);
    const mainThreadCpuAfter = mainThreadCpuSeconds(service.pid);
    const drain = variant.drain ? await variant.drain(sql, await currentLsn(sql), meter()) : undefined;
    return {
      workload: driver.workload.name,
      variant: variant.key,
      rep: spec.rep,
      ...result,
      counts,
      rows: subtractRows(await countAuditRows(sql), rowsBefore),
      postgresCpuSeconds: sumCpu(postgresCpu),
      postgresCpu,
      serviceCpuSeconds: seconds(serviceCpu, serviceCpuAfter),
      workerCpuSeconds: seconds(workerCpu, workerCpuAfter),
      mainThreadCpuSeconds: seconds(mainThreadCpu, mainThreadCpuAfter),
      machineBusy: Number(machineBusy.toFixed(3)),
      ...(drain ? { drain } : {}),
      ...(variant.checkRequestIds
        ? { requestIds: await checkRequestIds(sql, driver.mutationIds, spec.load.connections) }
        : {}),
    };
  } finally {
    await variant.tearDown?.(sql);
  }
}
