import { Logger } from '@nestjs/common';
import type { ClientConfig } from 'pg';
import type { LogicalReplicationService, Pgoutput } from 'pg-logical-replication';
import { loadOptionalPackage } from '../../common/packages/optional-package';
import { buildAuditEvent } from '../audit-event.factory';
import type { AuditEventRepository } from '../audit-event.repository';
import { copyBatch } from '../delivery/batch-copy';
import { toQueued, type QueuedEvent } from '../queued-event';
import type { PersonalDataService } from '../personal-data/personal-data.service';
import { describeError } from '../../common/database/safe-query.logger';
import { tableKey, WalTable, walDrafts } from './wal-events';
import { lsnToBigInt, WalTransaction, WalTransactionAssembler } from './wal-transactions';

export interface WalConsumerSettings {
  slot: string;
  publication: string;
  batchSize: number;
  flushIntervalMs: number;
  maxStateBytes: number;
}

/** What the consumer did, for the metrics. */
export interface WalConsumerReports {
  stored(events: number, fromApplication: number): void;
  connected(up: boolean): void;
}

const RETRY_MS = [500, 1000, 2000, 5000];

/**
 * Reads the slot: pgoutput messages -> committed transactions -> events (redaction, diff, personal-data
 * encryption here, off the request path) -> COPY batches, idempotent by event id -> acknowledge. The slot's
 * confirmed position moves only past transactions whose events are committed, so a crash (kill -9) replays
 * from the last stored transaction at most: the replayed events carry the same ids (walEventId) and are skipped.
 *
 * The stream is paused while a batch is written (the library's flow control), so memory holds at most one
 * batch plus one transaction. Postgres lets one connection read a slot: another process's consumer gets
 * "replication slot is active" and retries until this one stops.
 */
export class WalConsumer {
  private readonly logger = new Logger('AuditWal');
  private service: LogicalReplicationService | null = null;
  private readonly assembler: WalTransactionAssembler;
  private pending: QueuedEvent[] = [];
  /** LSN to confirm once `pending` is stored: the end of the last transaction decoded. */
  private pendingLsn: string | null = null;
  private writing: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private attempt = 0;
  private fromApplication = 0;
  /** The last position confirmed to the server (everything before it stored). */
  private confirmedLsn = '0/0';
  private lastPing = 0;

  constructor(
    private readonly connection: ClientConfig,
    private readonly settings: WalConsumerSettings,
    private readonly tables: ReadonlyMap<string, WalTable>,
    private readonly repository: AuditEventRepository,
    private readonly personal: PersonalDataService,
    private readonly reports: WalConsumerReports,
  ) {
    this.assembler = new WalTransactionAssembler((schema, table) => tables.has(tableKey(schema, table)));
  }

  /** Throws at start-up when the optional client library is not installed. */
  start(): void {
    const library = loadOptionalPackage<typeof import('pg-logical-replication')>(
      'pg-logical-replication',
      'AuditWalModule (wal capture)',
    );
    this.stopped = false;
    this.timer = setInterval(() => void this.tick(), this.settings.flushIntervalMs);
    this.timer.unref();
    void this.connect(library);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.flush();
    const service = this.service;
    this.service = null;
    await service?.destroy().catch(() => undefined);
  }

  private async connect(library: typeof import('pg-logical-replication')): Promise<void> {
    const { LogicalReplicationService, PgoutputPlugin } = library;
    while (!this.stopped) {
      const service = new LogicalReplicationService(
        { ...this.connection, application_name: 'nest-audit-trail:wal' },
        // Never the library's timed acknowledgement: it confirms what was received, not what was stored.
        { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
      );
      this.service = service;
      service.on('data', (_lsn: string, message: Pgoutput.Message) => this.onMessage(message));
      service.on('heartbeat', (lsn: string, _at: number, shouldRespond: boolean) =>
        this.onHeartbeat(service, lsn, shouldRespond),
      );
      service.on('start', () => {
        this.attempt = 0;
        this.reports.connected(true);
        this.logger.log(`Reading slot ${this.settings.slot}`);
      });
      let failure: unknown = null;
      service.on('error', (error: unknown) => (failure ??= error));
      const plugin = new PgoutputPlugin({
        protoVersion: 1,
        publicationNames: [this.settings.publication],
        messages: true,
      });
      try {
        await service.subscribe(plugin, this.settings.slot);
      } catch (error) {
        failure ??= error;
      }
      this.reports.connected(false);
      await service.destroy().catch(() => undefined);
      if (this.stopped) return;
      // Whatever was decoded and not stored is decoded again from the slot: start clean.
      await this.writing;
      this.pending = [];
      this.pendingLsn = null;
      this.assembler.reset();
      const message = describeError(failure ?? new Error('replication stream ended'));
      const busy = /is active for PID/.test(message);
      if (!busy || this.attempt === 0)
        this.logger[busy ? 'log' : 'warn'](
          busy
            ? `Slot ${this.settings.slot} is read by another process: standing by`
            : `WAL stream interrupted (${message}): reconnecting`,
        );
      await sleep(RETRY_MS[Math.min(this.attempt++, RETRY_MS.length - 1)]);
    }
  }

  private async onMessage(message: Pgoutput.Message): Promise<void> {
    const tx = this.assembler.push(message);
    if (!tx) return;
    this.take(tx);
    if (this.pending.length >= this.settings.batchSize) await this.flush();
  }

  /** The transaction's events, built and encoded, join the pending batch; its end becomes the LSN to confirm. */
  private take(tx: WalTransaction): void {
    for (const { id, draft } of walDrafts(tx, this.tables)) {
      try {
        const event = buildAuditEvent(draft, this.settings.maxStateBytes);
        if (!event) continue; // an update that changed nothing the trail counts
        event.id = id;
        const stored = this.personal.protect(event);
        this.pending.push(toQueued(stored.event, stored.keys));
        if (tx.context) this.fromApplication++;
      } catch (error) {
        this.logger.error(`WAL change of ${draft.resourceType} not recorded: ${describeError(error)}`);
      }
    }
    this.pendingLsn = tx.endLsn;
  }

  /**
   * Stores what was decoded; when nothing is waiting, asks the server (at most once a second) for a keepalive,
   * whose position is then confirmed (onHeartbeat): WAL of other tables, the trail's own COPYs included, does
   * not stay retained or count as lag until the server's own keepalive (wal_sender_timeout / 2).
   */
  private async tick(): Promise<void> {
    await this.flush();
    if (this.pendingLsn !== null || Date.now() - this.lastPing < 1000) return;
    this.lastPing = Date.now();
    await this.service?.acknowledge(this.confirmedLsn, true).catch(() => undefined);
  }

  /** Stores what is pending, then confirms its LSN; on failure keeps it and retries (the stream waits). */
  flush(): Promise<void> {
    this.writing = this.writing.then(async () => {
      while (this.pendingLsn !== null) {
        // Taken out whole: transactions decoded while this batch is written wait for the next round.
        const events = this.pending;
        const lsn = this.pendingLsn;
        const fromApplication = this.fromApplication;
        this.pending = [];
        this.fromApplication = 0;
        try {
          if (events.length) {
            // The plain COPY first: a batch already stored (a replay after a crash) fails on the unique
            // (occurred_at, id) and copyBatch settles it the idempotent way. Always idempotent cost ~8x the
            // Postgres CPU per event (a staging table per batch: bench:compare's worker COPY column).
            const outcome = await copyBatch(this.repository, events, false);
            if (outcome.poisoned.length) await this.repository.storeDeadLetters(outcome.poisoned);
          }
          if (this.pendingLsn === lsn) this.pendingLsn = null;
          this.reports.stored(events.length, fromApplication);
          await this.confirm(lsn);
        } catch (error) {
          this.pending = events.concat(this.pending);
          this.fromApplication += fromApplication;
          if (this.stopped) return;
          this.logger.warn(`WAL events not stored yet (${describeError(error)}): retrying`);
          await sleep(1000);
        }
      }
    });
    return this.writing;
  }

  /**
   * The server asks where we are. Nothing decoded is waiting (no open transaction, nothing pending, the
   * library's queue empty): everything up to this keepalive's position is done, so it is confirmed too and the
   * slot does not hold WAL of transactions that touched no captured table. Otherwise the last stored position
   * was confirmed already; the library answers the ping with it.
   */
  private onHeartbeat(service: LogicalReplicationService, lsn: string, shouldRespond: boolean): void {
    const internals = service as unknown as { _messageQueue?: unknown[]; _processing?: boolean };
    const idle =
      this.pendingLsn === null &&
      !this.assembler.inTransaction &&
      Array.isArray(internals._messageQueue) &&
      internals._messageQueue.length === 0 &&
      internals._processing === false;
    if (idle) void this.confirm(lsn);
    else if (shouldRespond) void this.confirm(this.confirmedLsn);
  }

  private async confirm(lsn: string): Promise<void> {
    if (lsnToBigInt(lsn) > lsnToBigInt(this.confirmedLsn)) this.confirmedLsn = lsn;
    await this.service?.acknowledge(this.confirmedLsn).catch(() => undefined);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
