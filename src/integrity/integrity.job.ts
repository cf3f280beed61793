import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
  Optional,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AUDIT_CONFIG } from '../common/config/audit-config';
import { AuditTrailConfig } from '../common/config/audit-config';
import { JobMetrics } from '../common/metrics/job-metrics.service';
import { scheduleEvery, trackJob } from '../common/scheduling/jobs';
import { IntegrityService } from './integrity.service';

const CHECKPOINT_JOB = 'integrity-checkpoint';
const CHAIN_JOB = 'integrity-chain-queued';
const HEAD_JOB = 'integrity-publish-heads';
/** Transactionally captured events are chained within this delay. */
const CHAIN_INTERVAL_MS = 10_000;

/**
 * Every AUDIT_CHECKPOINT_INTERVAL_MS: signs each organization chain's head (Ed25519); every
 * AUDIT_HEAD_INTERVAL_MS: publishes the heads that moved, signed, to the archive store (a deleted tail is
 * then seen by verification); every 10 s: chains the seals queued by transactional capture. Ticks are
 * trivial, the work runs under an advisory lock (one replica at a time), failures are logged and counted,
 * never thrown.
 */
@Injectable()
export class IntegrityJob implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(IntegrityJob.name);
  private running?: Promise<unknown>;

  constructor(
    private readonly integrity: IntegrityService,
    private readonly scheduler: SchedulerRegistry,
    @Inject(AUDIT_CONFIG) private readonly config: AuditTrailConfig,
    @Optional() private readonly jobs?: JobMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.every(CHECKPOINT_JOB, this.config.integrity.checkpointIntervalMs, () =>
      this.integrity.chainAndSign(),
    );
    this.every(CHAIN_JOB, CHAIN_INTERVAL_MS, () => this.integrity.chainQueued());
    this.every(HEAD_JOB, this.config.integrity.headIntervalMs, async () => {
      const result = await this.integrity.publishHeads();
      // A failed run (logged and counted): a chain lost seals its published head proves.
      if (result && result.refused.length > 0)
        throw new Error(`${result.refused.length} chain(s) end before or differ from their published head`);
    });
  }

  async onModuleDestroy(): Promise<void> {
    for (const name of [CHECKPOINT_JOB, CHAIN_JOB, HEAD_JOB])
      if (this.scheduler.doesExist('interval', name)) this.scheduler.deleteInterval(name);
    await this.running;
  }

  private every(job: string, ms: number, work: () => Promise<unknown>): void {
    scheduleEvery(this.scheduler, job, ms, () => void this.run(job, work));
  }

  /** One run; skipped while another run of either job is still going on this instance. */
  private run(job: string, work: () => Promise<unknown>): Promise<unknown> {
    if (this.running) return this.running;
    this.running = trackJob(this.jobs, job, work)
      .catch((error: Error) => this.logger.error(`${job} failed: ${error.message}`))
      .finally(() => (this.running = undefined));
    return this.running;
  }
}
