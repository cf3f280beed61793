import { Logger } from '@nestjs/common';
import { describeError } from '../../common/database/safe-query.logger';
import type { AuditEventRepository } from '../audit-event.repository';
import type { PoisonedEvent } from '../queued-event';
import type { DiskSpool } from './disk-spool';

/**
 * Where an event Postgres refuses for its data goes once batch-copy has isolated it: the
 * `audit_dead_letters` table (id, time, SQLSTATE, the encoded row), so the rest of its batch commits and an
 * operator can inspect and replay it. Each is logged by id and SQLSTATE, never with its data. When the
 * table cannot be written either (Postgres went away meanwhile), the events go to the spool's
 * dead-letter file; without a spool they are only logged and counted as poisoned.
 */
export class DeadLetters {
  private readonly logger = new Logger('AuditDeadLetters');
  /** Events stored in the table, by SQLSTATE. */
  private readonly stored: Record<string, number> = {};

  constructor(
    private readonly repository: AuditEventRepository,
    private readonly spool: DiskSpool | null,
  ) {}

  /** True when the events are kept (the table, or else the spool's file); false when lost. Never throws. */
  async store(poisoned: readonly PoisonedEvent[]): Promise<boolean> {
    if (poisoned.length === 0) return true;
    for (const { event, error } of poisoned) {
      this.logger.error(`Audit event ${event.id} refused by Postgres (${error}): dead-lettered`);
    }
    try {
      await this.repository.storeDeadLetters(poisoned);
      for (const { code } of poisoned)
        this.stored[code || 'unknown'] = (this.stored[code || 'unknown'] ?? 0) + 1;
      return true;
    } catch (error) {
      this.logger.error(`Dead-letter table write failed (${describeError(error)}): trying the spool`);
    }
    if (!this.spool) {
      this.logger.error(`${poisoned.length} dead-lettered audit events not kept: no spool`);
      return false;
    }
    try {
      await this.spool.setAside(poisoned.map(({ event, error }) => ({ line: event.line, error })));
      return true;
    } catch (error) {
      this.logger.error(
        `Dead-letter file write failed (${describeError(error)}): ${poisoned.length} events lost`,
      );
      return false;
    }
  }

  /** Events stored in the table since start, by SQLSTATE. */
  counts(): Record<string, number> {
    return { ...this.stored };
  }
}
