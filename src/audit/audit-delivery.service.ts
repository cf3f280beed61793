import { BeforeApplicationShutdown, Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { Pool } from 'pg';
import { AUDIT_OPTIONS, AUDIT_PG_POOL } from './audit.constants';
import { AuditEventRepository } from './audit-event.repository';
import { isCritical, ResolvedAuditOptions } from './audit-options';
import { AuditWriter } from './audit-writer.service';
import { AuditWriterStats, toQueued } from './queued-event';
import { AuditEvent } from './audit.types';
import { RedisStreamDelivery, StreamStats } from './delivery/redis-stream.delivery';
import { PersonalDataService } from './personal-data/personal-data.service';

export interface AuditPipelineStats extends AuditWriterStats {
  delivery: 'memory' | 'redis';
  /** Redis Streams delivery only. */
  stream: StreamStats | null;
  /**
   * Events accepted but held only in this process's memory (buffer, failed batches, writes under way) in
   * `memory` mode: what a kill -9 would lose now. 0 in `redis` mode, where an accepted event is in Redis.
   */
  unflushed: number;
}

/**
 * Where a captured event goes, by delivery mode and criticality:
 * - `memory`: into the writer's buffer (no I/O on the request path); past the high-water mark a
 *   non-critical event is dropped, or waits briefly for room (`overflow: 'block'`). A critical event takes
 *   the synchronous path: committed (or spooled to disk, Postgres being away) before the response.
 * - `redis`: appended to the Redis stream (or, Redis being away, the disk spool) before the response.
 * `submit` returns (or resolves to) false when the event could not be accepted; it is counted as dropped,
 * and the route's `onUndelivered` policy decides what the client sees.
 */
@Injectable()
export class AuditDelivery implements OnModuleInit, BeforeApplicationShutdown {
  readonly stream: RedisStreamDelivery | null;

  constructor(
    @Inject(AUDIT_OPTIONS) private readonly options: ResolvedAuditOptions,
    private readonly writer: AuditWriter,
    @Inject(AUDIT_PG_POOL) pool: Pool,
    private readonly personal: PersonalDataService,
  ) {
    this.stream =
      options.delivery === 'redis' && options.redis
        ? new RedisStreamDelivery(
            options.redis,
            options,
            writer,
            new AuditEventRepository(pool, (ids) => personal.markStored(ids)),
            options.redis.consumers,
          )
        : null;
  }

  async onModuleInit(): Promise<void> {
    await this.stream?.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stream?.stop();
  }

  submit(event: AuditEvent): boolean | Promise<boolean> {
    // Personal data is encrypted before the event goes anywhere: buffer, stream, spool, COPY.
    const { event: stored, keys } = this.personal.protect(event);
    const queued = toQueued(stored, keys);
    const critical = isCritical(this.options, queued);
    if (this.stream) {
      if (critical || this.stream.hasRoom()) return this.stream.submit(queued);
      return this.overflow(
        () => this.stream!.hasRoom(),
        () => this.stream!.submit(queued),
      );
    }
    if (critical) return this.writer.writeNow([queued]);
    if (this.writer.hasRoom()) return this.writer.enqueueQueued(queued);
    return this.overflow(
      () => this.writer.hasRoom(),
      () => this.writer.enqueueQueued(queued),
    );
  }

  /** Waits until everything accepted so far is committed: the writer (buffer, spool) and the stream. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    if (!(await this.writer.flush(timeoutMs))) return false;
    return this.stream ? this.stream.drained(Math.max(1, deadline - Date.now())) : true;
  }

  /** True while a non-critical event would be accepted now (the pre-check of `onUndelivered: 'fail'`). */
  hasRoom(): boolean {
    return this.stream ? this.stream.hasRoom() : this.writer.hasRoom();
  }

  stats(): AuditPipelineStats {
    const stats = this.writer.stats();
    const stream = this.stream?.stats() ?? null;
    const oldest = Math.max(stats.oldestPendingMs ?? -1, stream?.oldestAgeMs ?? -1);
    return {
      ...stats,
      oldestPendingMs: oldest < 0 ? null : oldest,
      delivery: this.options.delivery,
      stream,
      unflushed: this.stream ? 0 : stats.pending + stats.inFlight,
    };
  }

  /** Past the high-water mark: drop now (counted), or with `block`, wait briefly for room first. */
  private overflow(
    hasRoom: () => boolean,
    accept: () => boolean | Promise<boolean>,
  ): boolean | Promise<boolean> {
    if (this.options.overflow === 'drop') {
      this.writer.reportDropped(1, 'high_water');
      return false;
    }
    return this.waitForRoom(hasRoom, this.options.overflowBlockMs).then((room) => {
      if (room) return accept();
      this.writer.reportDropped(1, 'high_water');
      return false;
    });
  }

  private async waitForRoom(hasRoom: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!hasRoom()) {
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(5, deadline - Date.now())));
    }
    return true;
  }
}
