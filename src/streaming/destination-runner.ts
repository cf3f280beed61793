import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Pool } from 'pg';
import type { PersonalDataService } from '../audit';
import { toEventView } from '../query';
import { DestinationsRepository } from './destinations.repository';
import { formatEvents } from './formats';
import { StreamingMetrics } from './streaming.metrics';
import {
  AuditSink,
  DeliveryError,
  DestinationFormat,
  FormattedEvent,
  PersonalDataPolicy,
} from './streaming.types';
import { readEventsByRef, TrailReader, TrailRow } from './trail-reader';

/** What a runner delivers: a destination as the streamer runs it (secret opened into its sink). */
export interface RunnableDestination {
  id: string;
  name: string;
  organizationId: string | null;
  format: DestinationFormat;
  personalData: PersonalDataPolicy;
  startFrom: Date;
  batchSize: number;
  /** Changes whenever the destination is edited or its state changes: a runner stops when it moved. */
  updatedAt: Date;
}

export interface RunnerContext {
  pool: Pool;
  reader: TrailReader;
  repository: DestinationsRepository;
  personalData: PersonalDataService;
  metrics: StreamingMetrics | null;
  retry: { minMs: number; maxMs: number };
  /** True once the process is shutting down: runs stop between sends. */
  stopping: () => boolean;
}

/** Why a run stopped before the destination was up to date. */
class RunStopped extends Error {}

const REPLAY_BATCH = 200;
/** A run hands the lock back after this long, so that a busy destination does not hold a process forever. */
const RUN_BUDGET_MS = 30_000;

/**
 * Delivers one destination, batch after batch, while it holds the destination's advisory lock: reads the
 * next sealed events from its cursors, sends them in the destination's format, and moves the cursors only
 * once the receiver acknowledged them (at-least-once; the stable event id and delivery id let receivers
 * dedupe what a crash between the two sends again). A send that fails is retried with backoff (the
 * receiver's Retry-After first) until it succeeds, the destination is paused or deleted, or the process
 * stops; a batch the receiver refuses is split to find the events it refuses, which are dead-lettered
 * alone; a `pause` failure (credentials, endpoint) pauses the destination with its reason.
 */
export class DestinationRunner {
  private readonly logger: Logger;

  constructor(
    private readonly destination: RunnableDestination,
    private readonly sink: AuditSink,
    private readonly context: RunnerContext,
  ) {
    this.logger = new Logger(`AuditStream:${destination.name}`);
  }

  /** One run: replays requested dead letters, then delivers until up to date (or the time budget). */
  async run(): Promise<void> {
    const started = Date.now();
    try {
      await this.replayDeadLetters();
      while (!this.context.stopping() && Date.now() - started < RUN_BUDGET_MS) {
        const batch = await this.context.reader.nextBatch(this.destination, this.destination.batchSize);
        if (!batch) break;
        if (batch.unavailable > 0) this.context.metrics?.unavailable(this.destination, batch.unavailable);
        await this.deliver(batch.rows);
        const moved = await this.context.repository.commit(
          this.destination.id,
          batch.advances,
          batch.rows.length,
        );
        if (!moved) {
          this.logger.warn('cursor moved by another process; stopping this run');
          return;
        }
        this.context.metrics?.delivered(this.destination, batch.rows.length);
      }
    } catch (error) {
      if (error instanceof RunStopped) return;
      throw error;
    }
  }

  /** Sends rows in order, in chunks the sink takes. */
  private async deliver(rows: TrailRow[]): Promise<void> {
    if (rows.length === 0) return;
    const formatted = await this.format(rows);
    for (let start = 0; start < formatted.length; start += this.sink.maxBatchEvents)
      await this.sendIsolatingRefusals(formatted.slice(start, start + this.sink.maxBatchEvents));
  }

  private async format(rows: TrailRow[]): Promise<FormattedEvent[]> {
    let views = rows.map(toEventView);
    if (this.destination.personalData === 'clear') views = await this.context.personalData.reveal(views);
    return formatEvents(
      this.destination.format,
      views.map((event, index) => ({ event, orgKey: rows[index].orgKey, sealSeq: rows[index].sealSeq })),
    );
  }

  /** A refused batch is halved until the refused events stand alone; those are dead-lettered. */
  private async sendIsolatingRefusals(events: FormattedEvent[]): Promise<void> {
    try {
      await this.sendRetrying(events);
    } catch (error) {
      if (!(error instanceof DeliveryError) || error.failure !== 'reject') throw error;
      if (events.length > 1) {
        const middle = events.length >> 1;
        await this.sendIsolatingRefusals(events.slice(0, middle));
        await this.sendIsolatingRefusals(events.slice(middle));
        return;
      }
      const { source } = events[0];
      await this.context.repository.addDeadLetter(
        this.destination.id,
        {
          eventId: source.event.id,
          occurredAt: new Date(source.event.occurredAt),
          orgKey: source.orgKey,
          sealSeq: source.sealSeq,
        },
        error.message,
        error.options.statusCode,
      );
      this.context.metrics?.deadLettered(this.destination);
      this.logger.warn(`event ${source.event.id} refused for good, dead-lettered: ${error.message}`);
    }
  }

  /** Sends until acknowledged; rethrows a `reject`; pauses on `pause`; stops when the run must stop. */
  private async sendRetrying(events: FormattedEvent[]): Promise<void> {
    const deliveryId = deliveryIdOf(events);
    for (let attempt = 0; ; attempt++) {
      try {
        const started = process.hrtime.bigint();
        await this.sink.send({ deliveryId, events });
        this.context.metrics?.sent(this.destination, Number(process.hrtime.bigint() - started) / 1e9);
        return;
      } catch (caught) {
        const error =
          caught instanceof DeliveryError
            ? caught
            : new DeliveryError(`send failed: ${(caught as Error).message}`, 'retry', { cause: caught });
        this.context.metrics?.failed(this.destination, error.failure);
        await this.context.repository.recordFailure(this.destination.id, error.message);
        if (error.failure === 'reject') throw error;
        if (error.failure === 'pause') {
          await this.context.repository.setState(this.destination.id, 'paused', error.message);
          this.logger.error(`paused: ${error.message}`);
          throw new RunStopped();
        }
        const delay = error.options.retryAfterMs ?? backoff(attempt, this.context.retry);
        this.logger.warn(`send failed (attempt ${attempt + 1}), retrying in ${delay} ms: ${error.message}`);
        await this.waitOrStop(delay);
      }
    }
  }

  /** Sleeps, checking that the process is not stopping and the destination is unchanged and active. */
  private async waitOrStop(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (this.context.stopping()) throw new RunStopped();
      await new Promise((resolve) => setTimeout(resolve, Math.min(250, until - Date.now())));
    }
    const current = await this.context.repository.stateOf(this.destination.id);
    if (
      !current ||
      current.state !== 'active' ||
      current.updatedAt.getTime() !== this.destination.updatedAt.getTime()
    )
      throw new RunStopped();
  }

  /** Dead letters an operator asked to replay: sent again (in chain order), marked replayed when acknowledged. */
  private async replayDeadLetters(): Promise<void> {
    for (;;) {
      const letters = await this.context.repository.replayRequested(this.destination.id, REPLAY_BATCH);
      if (letters.length === 0) return;
      const rows = await readEventsByRef(this.context.pool, letters);
      const found = new Set(rows.map((row) => row.id));
      const formatted = await this.format(rows);
      for (const letter of letters) {
        const event = formatted.find((e) => e.source.event.id === letter.eventId);
        if (!event) {
          await this.context.repository.replayRefused(
            letter.id,
            'the event is no longer in the hot or warm tables',
          );
          continue;
        }
        try {
          await this.sendRetrying([event]);
          await this.context.repository.markReplayed([letter.id]);
        } catch (error) {
          if (!(error instanceof DeliveryError) || error.failure !== 'reject') throw error;
          await this.context.repository.replayRefused(letter.id, error.message);
        }
      }
      if (found.size === 0 && letters.length < REPLAY_BATCH) return;
    }
  }
}

/** Exponential backoff with full jitter in the upper half: min * 2^attempt, capped. */
export function backoff(attempt: number, { minMs, maxMs }: { minMs: number; maxMs: number }): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/** The same events give the same id: a receiver sees a resend (retry or redelivery) as the same delivery. */
export function deliveryIdOf(events: readonly FormattedEvent[]): string {
  const hash = createHash('sha256');
  for (const event of events) hash.update(event.source.event.id).update('\n');
  const hex = hash.digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
