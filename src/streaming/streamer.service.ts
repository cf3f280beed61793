import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { createHash } from 'node:crypto';
import { PersonalDataService } from '../audit';
import { MetricsService } from '../common/metrics/metrics.service';
import { DestinationRow } from './destinations.repository';
import { DestinationsService, lagSeconds } from './destinations.service';
import { DestinationRunner } from './destination-runner';
import { SINK_KINDS } from './sinks';
import { StreamingMetrics } from './streaming.metrics';
import { AuditSink } from './streaming.types';
import { TrailReader } from './trail-reader';
import { LockConnection } from './lock-connection';

/** Lag and backlog gauges are refreshed at most this often (one query over the undelivered seals). */
const METRICS_REFRESH_MS = 5000;

interface Active {
  row: DestinationRow;
  sink: AuditSink;
  running?: Promise<void>;
}

/**
 * Runs the destinations' deliveries in this process. Every poll it reads the destinations, starts a run for
 * each active one that is not running here, and refreshes their status metrics. A run first takes the
 * destination's session advisory lock on a connection of its own, so any number of processes can run the
 * streamer: one delivers each destination, the others skip it, and take over when its process stops or dies
 * (the lock goes with the connection).
 */
@Injectable()
export class StreamerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AuditStreamer');
  private readonly reader: TrailReader;
  private readonly metrics: StreamingMetrics | null;
  private readonly active = new Map<string, Active>();
  private readonly locks: LockConnection;
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private stopping = false;
  private metricsRefreshedAt = 0;
  private lastPollError?: { message: string; at: number };

  constructor(
    private readonly destinations: DestinationsService,
    private readonly personalData: PersonalDataService,
    @Optional() metrics?: MetricsService,
  ) {
    this.reader = new TrailReader(destinations.pool);
    this.locks = new LockConnection(destinations.pool);
    this.metrics = metrics ? new StreamingMetrics(metrics) : null;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.syncConfigured();
    if (!this.destinations.options.run) return;
    this.timer = setInterval(() => void this.poll(), this.destinations.options.pollIntervalMs);
    this.timer.unref();
    void this.poll();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.polling;
    await Promise.all([...this.active.values()].map((a) => a.running));
    await Promise.all([...this.active.values()].map((a) => a.sink.close().catch(() => undefined)));
    this.active.clear();
    await this.locks.close();
  }

  /** Destinations from configuration are created (or updated) in the table, where their cursors live. */
  private async syncConfigured(): Promise<void> {
    for (const destination of this.destinations.options.destinations) {
      await this.destinations.repository.upsertConfigured({
        id: uuidFromName(`${destination.organizationId ?? ''}\u0000${destination.name}`),
        name: destination.name,
        organizationId: destination.organizationId ?? null,
        kind: destination.kind,
        format: destination.format ?? 'json',
        settings: destination.settings ?? {},
        secret: null,
        personalData: destination.personalData ?? 'encrypted',
        startFrom: destination.startFrom ? new Date(destination.startFrom) : new Date(),
        batchSize: destination.batchSize ?? 500,
        source: 'config',
        createdBy: 'configuration',
      });
    }
  }

  /** One poll (never two at once): start what is due, drop what was deleted or changed, refresh metrics. */
  private poll(): Promise<void> {
    if (this.polling || this.stopping) return this.polling ?? Promise.resolve();
    this.polling = this.pollOnce()
      .then(() => (this.lastPollError = undefined))
      .catch((error: Error) => this.pollFailed(error))
      .finally(() => (this.polling = undefined));
    return this.polling;
  }

  /** A database outage fails every poll: said once, then once a minute while it lasts. */
  private pollFailed(error: Error): void {
    const last = this.lastPollError;
    if (last && last.message === error.message && Date.now() - last.at < 60_000) return;
    this.lastPollError = { message: error.message, at: Date.now() };
    this.logger.error(`poll failed: ${error.message}`);
  }

  private async pollOnce(): Promise<void> {
    const rows = await this.destinations.repository.list();
    const current = new Map(rows.map((row) => [row.id, row]));
    for (const [id, active] of this.active) {
      const row = current.get(id);
      if (row && row.updatedAt.getTime() === active.row.updatedAt.getTime() && row.state === 'active')
        continue;
      if (active.running) continue; // replaced once its run ends
      this.active.delete(id);
      await active.sink.close().catch(() => undefined);
      if (!row) this.metrics?.forget(active.row);
    }
    for (const row of rows) {
      if (row.state !== 'active' || this.stopping) continue;
      let active = this.active.get(row.id);
      if (!active) {
        try {
          active = { row, sink: SINK_KINDS[row.kind].create(this.destinations.specOf(row)) };
        } catch (error) {
          this.logger.error(`destination ${row.name} cannot start: ${(error as Error).message}`);
          continue;
        }
        this.active.set(row.id, active);
      }
      if (!active.running)
        active.running = this.runLocked(active).finally(() => (active.running = undefined));
    }
    await this.refreshMetrics(rows);
  }

  /** A run of the destination if this process gets its lock; nothing otherwise. */
  private async runLocked(active: Active): Promise<void> {
    const { row } = active;
    const key = lockKey(row.id);
    const generation = this.locks.generation;
    let locked = false;
    try {
      locked = await this.locks.tryLock(key);
      if (!locked) return;
      const runner = new DestinationRunner(row, active.sink, {
        pool: this.destinations.pool,
        reader: this.reader,
        repository: this.destinations.repository,
        personalData: this.personalData,
        metrics: this.metrics,
        retry: this.destinations.options.retry,
        // Stops at shutdown, or when the lock's connection dropped (another process may have the lock now).
        stopping: () => this.stopping || this.locks.generation !== generation,
      });
      await runner.run();
    } catch (error) {
      this.logger.error(`destination ${row.name}: ${(error as Error).message}`);
    } finally {
      if (locked) await this.locks.unlock(key, generation);
    }
  }

  private async refreshMetrics(rows: DestinationRow[]): Promise<void> {
    if (!this.metrics || rows.length === 0 || Date.now() - this.metricsRefreshedAt < METRICS_REFRESH_MS)
      return;
    this.metricsRefreshedAt = Date.now();
    const backlogs = await this.destinations.repository.backlogs(rows.map((row) => row.id));
    for (const row of rows) {
      const backlog = backlogs.get(row.id);
      this.metrics.status(row, {
        lagSeconds: lagSeconds(backlog),
        pendingEvents: backlog?.pendingEvents ?? 0,
        lastSuccessAt: row.lastSuccessAt,
        paused: row.state === 'paused',
      });
    }
  }
}

/** A signed 32-bit key from the destination id, for pg_try_advisory_lock(int, int). */
function lockKey(id: string): number {
  return createHash('sha256').update(id).digest().readInt32BE(0);
}

/** A stable UUID for a configured destination (its name): the same row, and cursor, on every start. */
function uuidFromName(name: string): string {
  const hex = createHash('sha256').update(`nest-audit-trail:destination:${name}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex[16], 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
