import { Logger } from '@nestjs/common';
import type { RedisClient } from './redis-connection';
import type { AuditEventRepository } from '../audit-event.repository';
import type { ResolvedRedisOptions } from '../audit-options';
import { describeError } from '../../common/database/safe-query.logger';
import type { PoisonedEvent, QueuedEvent, WriteAttempt } from '../queued-event';
import { adaptiveBatchSize } from './adaptive-batch';
import { BatchOutcome, copyBatch } from './batch-copy';
import { deserializeQueued } from './queued-event.codec';

/** What a consumer reports to the rest of the pipeline (the writer's counters and listeners). */
export interface ConsumerSink {
  attempt(attempt: WriteAttempt): void;
  flushed(events: readonly QueuedEvent[]): void;
  poisoned(count: number): void;
  /** Into the dead-letter table (logged by id); never throws. */
  deadLetter(poisoned: readonly PoisonedEvent[]): Promise<boolean>;
}

export interface ConsumerSettings {
  batchSize: number;
  maxBatch: number;
  /** How long one XREADGROUP waits for new entries (the flush interval). */
  blockMs: number;
}

type StreamEntry = [id: string, fields: string[] | null];

const MAX_BACKOFF_MS = 10_000;
/** A consumer looks for entries abandoned by dead consumers this often. */
const CLAIM_EVERY_MS = 1_000;

/**
 * One flush worker of the consumer group: reads batches from the stream, COPYs them into Postgres, and
 * acknowledges (and deletes) the entries only after the commit. Entries it held when it died stay pending
 * in the group; after `claimIdleMs` another consumer takes them over (XAUTOCLAIM) and writes them
 * idempotently, so a crash between COMMIT and XACK never produces a duplicate. An entry Postgres refuses
 * for its data is isolated from its batch and moved to the dead-letter stream with the error.
 */
export class StreamConsumer {
  private readonly logger: Logger;
  private running = false;
  private loop?: Promise<void>;
  private count: number;
  private failures = 0;
  private nextClaimAt = 0;
  private claimCursor = '0-0';
  private groupReady = false;

  constructor(
    /** A connection of its own: XREADGROUP BLOCK holds it. */
    private readonly redis: RedisClient,
    private readonly repository: AuditEventRepository,
    private readonly options: ResolvedRedisOptions,
    private readonly settings: ConsumerSettings,
    readonly name: string,
    private readonly sink: ConsumerSink,
  ) {
    this.logger = new Logger(`StreamConsumer ${name}`);
    this.count = settings.batchSize;
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the batch in hand is written and acknowledged (or left pending for another consumer). */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.ensureGroup();
        if (Date.now() >= this.nextClaimAt) await this.claimAbandoned();
        const readAt = Date.now();
        const wanted = this.count;
        const entries = await this.read();
        if (entries.length > 0) await this.process(entries, false);
        this.failures = 0;
        // XREADGROUP BLOCK returns as soon as one entry is there: under a steady trickle that would be one
        // tiny COPY transaction per request. A partial read waits out the flush interval instead, so the
        // stream is written in batches, like the memory buffer; a full read goes on at once (backlog).
        if (entries.length < wanted) await this.pause(readAt + this.settings.blockMs - Date.now());
      } catch (error) {
        await this.backoff(`Stream read failed (${describeError(error)})`);
      }
    }
  }

  /** Creates the group (from the start of the stream) if Redis lost it or it never existed. */
  private async ensureGroup(): Promise<void> {
    if (this.groupReady) return;
    await this.redis
      .xgroup('CREATE', this.options.streamKey, this.options.group, '0', 'MKSTREAM')
      .catch((error: Error) => {
        if (!error.message.includes('BUSYGROUP')) throw error;
      });
    this.groupReady = true;
  }

  private async read(): Promise<StreamEntry[]> {
    try {
      const reply = (await this.redis.xreadgroup(
        'GROUP',
        this.options.group,
        this.name,
        'COUNT',
        this.count,
        'BLOCK',
        this.settings.blockMs,
        'STREAMS',
        this.options.streamKey,
        '>',
      )) as Array<[string, StreamEntry[]]> | null;
      const entries = reply?.[0]?.[1] ?? [];
      // Adaptive batch size: a full read means a backlog, so take more next time; else back to the base.
      this.count =
        entries.length >= this.count
          ? adaptiveBatchSize(this.count * 2, this.settings.batchSize, this.settings.maxBatch, 1)
          : this.settings.batchSize;
      return entries;
    } catch (error) {
      if ((error as Error).message.includes('NOGROUP')) this.groupReady = false;
      throw error;
    }
  }

  /** Takes over entries another consumer has held longer than `claimIdleMs` (it died or hangs). */
  private async claimAbandoned(): Promise<void> {
    this.nextClaimAt = Date.now() + CLAIM_EVERY_MS;
    const [cursor, entries] = (await this.redis.xautoclaim(
      this.options.streamKey,
      this.options.group,
      this.name,
      this.options.claimIdleMs,
      this.claimCursor,
      'COUNT',
      this.settings.batchSize,
    )) as [string, StreamEntry[], string[]?];
    this.claimCursor = cursor;
    if (entries.length === 0) return;
    this.logger.warn(`Reclaimed ${entries.length} audit events abandoned by another consumer`);
    await this.process(entries, true);
  }

  /**
   * Writes a batch until it is committed, then acknowledges it. `replay`: the entries were delivered
   * before (reclaimed), so they may already be in Postgres: written idempotently.
   */
  private async process(entries: StreamEntry[], replay: boolean): Promise<void> {
    const events: QueuedEvent[] = [];
    const unreadable: Array<{ id: string; error: string; raw: string }> = [];
    for (const [id, fields] of entries) {
      if (!fields) continue; // deleted while pending: nothing to write
      try {
        events.push(deserializeQueued(fieldValue(fields, 'e') ?? ''));
      } catch (error) {
        unreadable.push({ id, error: describeError(error), raw: fields.join(' ') });
      }
    }
    let idempotent = replay;
    let outcome: BatchOutcome | undefined;
    while (!outcome) {
      try {
        outcome = await copyBatch(this.repository, events, idempotent, (a) => this.sink.attempt(a));
      } catch (error) {
        // Postgres unavailable: the entries stay pending (in Redis, safe); retried here, idempotently.
        idempotent = true;
        if (!this.running) return; // shutting down: another consumer or the next start reclaims them
        await this.backoff(`Audit batch of ${events.length} events not written (${describeError(error)})`);
      }
    }
    this.failures = 0;
    await this.deadLetter(outcome, unreadable);
    // Acknowledged and deleted together: the stream holds only what is not yet committed.
    const ids = entries.map(([id]) => id);
    await this.redis
      .multi()
      .xack(this.options.streamKey, this.options.group, ...ids)
      .xdel(this.options.streamKey, ...ids)
      .exec();
    this.sink.flushed(outcome.written);
    this.sink.poisoned(outcome.poisoned.length + unreadable.length);
  }

  private async deadLetter(
    outcome: BatchOutcome,
    unreadable: Array<{ id: string; error: string; raw: string }>,
  ): Promise<void> {
    if (outcome.poisoned.length === 0 && unreadable.length === 0) return;
    // The table is where an operator looks in both modes (logged there by id); the stream keeps its own
    // copy, which holds even when Postgres refuses the table write too.
    await this.sink.deadLetter(outcome.poisoned);
    const pipeline = this.redis.pipeline();
    for (const { event, error } of outcome.poisoned) {
      pipeline.xadd(this.options.deadLetterKey, '*', 'eventId', event.id, 'error', error, 'line', event.line);
    }
    for (const { id, error, raw } of unreadable) {
      this.logger.error(`Stream entry ${id} is not an audit event: moved to the dead-letter stream`);
      pipeline.xadd(this.options.deadLetterKey, '*', 'entryId', id, 'error', error, 'raw', raw);
    }
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0] as Error;
  }

  private async pause(ms: number): Promise<void> {
    if (ms > 0 && this.running) await new Promise((resolve) => setTimeout(resolve, ms).unref());
  }

  private async backoff(message: string): Promise<void> {
    if (!this.running) return;
    this.failures++;
    const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** (this.failures - 1)) * (0.5 + Math.random() / 2);
    if (this.failures === 1 || this.failures % 10 === 0) {
      this.logger.warn(`${message}; retry #${this.failures} in ~${Math.round(delay)} ms`);
    }
    // Unref'd: a consumer waiting out an outage never keeps a stopping process alive.
    await new Promise((resolve) => setTimeout(resolve, delay).unref());
  }
}

function fieldValue(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
