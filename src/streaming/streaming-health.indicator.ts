import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DestinationsService, lagSeconds } from './destinations.service';

const DEFAULT_TIMEOUT_MS = 1500;

/**
 * Streaming, for a health probe: down when a destination is paused (its credentials or endpoint were
 * refused) or its oldest undelivered event is older than `readyMaxLagMs`; the details list every
 * destination's state, lag and backlog. Put it in the readiness of the processes that run the streamer (a
 * worker), not of the API: a SIEM outage must not take the API out of service.
 */
@Injectable()
export class AuditStreamingHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly destinations: DestinationsService,
  ) {}

  isHealthy<K extends string>(key: K, timeoutMs = DEFAULT_TIMEOUT_MS) {
    return this.indicator
      .check(key)
      .attempt(async () => {
        const rows = await this.destinations.repository.list();
        const backlogs = await this.destinations.repository.backlogs(rows.map((row) => row.id));
        const maxLagS = this.destinations.options.readyMaxLagMs / 1000;
        const problems: string[] = [];
        const details: Record<string, unknown> = {};
        for (const row of rows) {
          const backlog = backlogs.get(row.id);
          const lag = lagSeconds(backlog);
          const label = row.organizationId ? `${row.organizationId}/${row.name}` : row.name;
          details[label] = { state: row.state, lagSeconds: lag, pendingEvents: backlog?.pendingEvents ?? 0 };
          if (row.state === 'paused')
            problems.push(`${label} is paused: ${row.stateReason ?? 'no reason given'}`);
          else if (lag > maxLagS) problems.push(`${label} lags ${lag} s (limit ${maxLagS} s)`);
        }
        if (problems.length) throw new Error(problems.join('; '));
        return { destinations: details };
      })
      .withTimeout(timeoutMs);
  }
}
