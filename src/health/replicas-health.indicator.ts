import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { ReadReplicas } from '../common/database/read-replicas';

/**
 * The read replicas, for the app's readiness probe. Always up: when replicas are down or lagging the
 * primary serves the admin reads, so the instance can still take traffic; the details say which replica is
 * in which state (`degraded: true` while any serves nothing), for dashboards and for the operator. An app
 * that wants replica trouble to fail readiness checks `degraded` itself.
 */
@Injectable()
export class AuditReplicasHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly replicas: ReadReplicas,
  ) {}

  /** False when no replicas are configured: the check can be left out of the probe. */
  get configured(): boolean {
    return this.replicas.configured;
  }

  isHealthy<K extends string>(key: K) {
    const statuses = this.replicas.status();
    const serving = statuses.filter((r) => r.state === 'up').length;
    return this.indicator.check(key).up({
      serving,
      of: statuses.length,
      degraded: serving < statuses.length,
      // With none serving, every admin read runs on the primary.
      reads: serving > 0 ? 'replicas' : 'primary',
      replicas: Object.fromEntries(
        statuses.map((r) => [
          r.name,
          {
            state: r.state,
            lagMs: r.lagMs,
            lagBytes: r.lagBytes,
            ...(r.problem ? { problem: r.problem } : {}),
          },
        ]),
      ),
    });
  }
}
