import { Pool } from 'pg';
import { ChainAdvance } from './trail-reader';
import { DestinationFormat, DestinationKind, PersonalDataPolicy } from './streaming.types';

/** A destination as stored (the secret still sealed). */
export interface DestinationRow {
  id: string;
  name: string;
  organizationId: string | null;
  kind: DestinationKind;
  format: DestinationFormat;
  settings: Record<string, unknown>;
  secret: Buffer | null;
  personalData: PersonalDataPolicy;
  startFrom: Date;
  batchSize: number;
  source: 'api' | 'config';
  state: 'active' | 'paused';
  stateReason: string | null;
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
  lastSuccessAt: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
  deliveredEvents: string;
  failedAttempts: string;
}

export type NewDestination = Pick<
  DestinationRow,
  | 'id'
  | 'name'
  | 'organizationId'
  | 'kind'
  | 'format'
  | 'settings'
  | 'secret'
  | 'personalData'
  | 'startFrom'
  | 'batchSize'
  | 'source'
  | 'createdBy'
>;

export interface DestinationBacklog {
  pendingEvents: number;
  /** When the oldest undelivered seal was committed; null when up to date. */
  oldestPendingAt: Date | null;
}

export interface DeadLetterRow {
  id: string;
  eventId: string;
  occurredAt: Date;
  orgKey: string;
  sealSeq: string;
  error: string;
  statusCode: number | null;
  createdAt: Date;
  replayRequestedAt: Date | null;
  replayedAt: Date | null;
}

const COLUMNS = `id, name, organization_id AS "organizationId", kind, format, settings, secret,
  personal_data AS "personalData", start_from AS "startFrom", batch_size AS "batchSize", source, state,
  state_reason AS "stateReason", created_by AS "createdBy", created_at AS "createdAt", updated_at AS "updatedAt",
  last_success_at AS "lastSuccessAt", last_error AS "lastError", last_error_at AS "lastErrorAt",
  delivered_events::text AS "deliveredEvents", failed_attempts::text AS "failedAttempts"`;

const DEAD_LETTER_COLUMNS = `id::text, event_id AS "eventId", occurred_at AS "occurredAt", org_key AS "orgKey",
  seal_seq::text AS "sealSeq", error, status_code AS "statusCode", created_at AS "createdAt",
  replay_requested_at AS "replayRequestedAt", replayed_at AS "replayedAt"`;

/** The streaming tables: destinations, their cursors and dead letters. */
export class DestinationsRepository {
  constructor(private readonly pool: Pool) {}

  async list(organizationId?: string | null): Promise<DestinationRow[]> {
    const scoped = organizationId !== undefined;
    const { rows } = await this.pool.query<DestinationRow>(
      `SELECT ${COLUMNS} FROM audit_stream_destinations
        ${scoped ? 'WHERE organization_id IS NOT DISTINCT FROM $1' : ''} ORDER BY created_at, id`,
      scoped ? [organizationId] : [],
    );
    return rows;
  }

  async find(id: string): Promise<DestinationRow | null> {
    const { rows } = await this.pool.query<DestinationRow>(
      `SELECT ${COLUMNS} FROM audit_stream_destinations WHERE id = $1`,
      [id],
    );
    return rows[0] ?? null;
  }

  /** Inserts; false when the organization already has a destination of that name. */
  async insert(destination: NewDestination): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO audit_stream_destinations
         (id, name, organization_id, kind, format, settings, secret, personal_data, start_from, batch_size, source, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT DO NOTHING`,
      [
        destination.id,
        destination.name,
        destination.organizationId,
        destination.kind,
        destination.format,
        destination.settings,
        destination.secret,
        destination.personalData,
        destination.startFrom,
        destination.batchSize,
        destination.source,
        destination.createdBy,
      ],
    );
    return result.rowCount === 1;
  }

  /**
   * A destination from configuration: created once (its cursor then survives restarts); its settings
   * follow the configuration on every start. The state (paused) and counters stay as they are.
   */
  async upsertConfigured(destination: NewDestination): Promise<DestinationRow> {
    const { rows } = await this.pool.query<DestinationRow>(
      `INSERT INTO audit_stream_destinations
         (id, name, organization_id, kind, format, settings, personal_data, start_from, batch_size, source, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'config', 'configuration')
       ON CONFLICT (coalesce(organization_id, ''), name) DO UPDATE
         SET kind = EXCLUDED.kind, format = EXCLUDED.format, settings = EXCLUDED.settings,
             personal_data = EXCLUDED.personal_data, batch_size = EXCLUDED.batch_size,
             updated_at = CASE WHEN (audit_stream_destinations.kind, audit_stream_destinations.format,
                                     audit_stream_destinations.settings, audit_stream_destinations.personal_data,
                                     audit_stream_destinations.batch_size)
                                    IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.format, EXCLUDED.settings,
                                                      EXCLUDED.personal_data, EXCLUDED.batch_size)
                               THEN now() ELSE audit_stream_destinations.updated_at END
         WHERE audit_stream_destinations.source = 'config'
       RETURNING ${COLUMNS}`,
      [
        destination.id,
        destination.name,
        destination.organizationId,
        destination.kind,
        destination.format,
        destination.settings,
        destination.personalData,
        destination.startFrom,
        destination.batchSize,
      ],
    );
    if (!rows[0])
      throw new Error(
        `a destination named "${destination.name}" already exists and was not created from configuration`,
      );
    return rows[0];
  }

  async delete(id: string): Promise<boolean> {
    return (
      (await this.pool.query('DELETE FROM audit_stream_destinations WHERE id = $1', [id])).rowCount === 1
    );
  }

  async setState(id: string, state: 'active' | 'paused', reason: string | null): Promise<void> {
    await this.pool.query(
      `UPDATE audit_stream_destinations SET state = $2, state_reason = $3, updated_at = now() WHERE id = $1`,
      [id, state, reason],
    );
  }

  /** The current state, or null once deleted: a runner checks it between retries. */
  async stateOf(id: string): Promise<{ state: 'active' | 'paused'; updatedAt: Date } | null> {
    const { rows } = await this.pool.query<{ state: 'active' | 'paused'; updatedAt: Date }>(
      `SELECT state, updated_at AS "updatedAt" FROM audit_stream_destinations WHERE id = $1`,
      [id],
    );
    return rows[0] ?? null;
  }

  async recordFailure(id: string, message: string): Promise<void> {
    await this.pool.query(
      `UPDATE audit_stream_destinations
          SET last_error = $2, last_error_at = now(), failed_attempts = failed_attempts + 1 WHERE id = $1`,
      [id, message.slice(0, 500)],
    );
  }

  /**
   * Moves the cursors past a delivered batch and counts it, in one transaction. Each cursor moves only
   * from where the batch started (another runner that moved it meanwhile wins; false then).
   */
  async commit(id: string, advances: ChainAdvance[], delivered: number): Promise<boolean> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const moved = await client.query(
        `UPDATE audit_stream_cursors c SET seq = t.to_seq, updated_at = now()
           FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS t(org_key, after_seq, to_seq)
          WHERE c.destination_id = $1 AND c.org_key = t.org_key AND c.seq = t.after_seq`,
        [id, advances.map((a) => a.orgKey), advances.map((a) => a.afterSeq), advances.map((a) => a.toSeq)],
      );
      if (moved.rowCount !== advances.length) {
        await client.query('ROLLBACK');
        return false;
      }
      await client.query(
        `UPDATE audit_stream_destinations
            SET delivered_events = delivered_events + $2, last_success_at = now() WHERE id = $1`,
        [id, delivered],
      );
      await client.query('COMMIT');
      return true;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Undelivered events per destination and the commit time of the oldest (from the seals, not the events). */
  async backlogs(ids: string[]): Promise<Map<string, DestinationBacklog>> {
    const { rows } = await this.pool.query<{ id: string; pending: string; oldest: Date | null }>(
      `SELECT c.destination_id AS id, coalesce(sum(s.event_count), 0)::text AS pending, min(s.sealed_at) AS oldest
         FROM audit_stream_cursors c
         JOIN audit_seals s ON s.org_key = c.org_key AND s.seq > c.seq
        WHERE c.destination_id = ANY($1::uuid[])
        GROUP BY c.destination_id`,
      [ids],
    );
    const backlogs = new Map<string, DestinationBacklog>(
      ids.map((id) => [id, { pendingEvents: 0, oldestPendingAt: null }]),
    );
    for (const row of rows)
      backlogs.set(row.id, { pendingEvents: Number(row.pending), oldestPendingAt: row.oldest });
    return backlogs;
  }

  async addDeadLetter(
    id: string,
    event: { eventId: string; occurredAt: Date; orgKey: string; sealSeq: string },
    error: string,
    statusCode: number | undefined,
  ): Promise<void> {
    await this.pool.query(
      `INSERT INTO audit_stream_dead_letters (destination_id, event_id, occurred_at, org_key, seal_seq, error, status_code)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        id,
        event.eventId,
        event.occurredAt,
        event.orgKey,
        event.sealSeq,
        error.slice(0, 500),
        statusCode ?? null,
      ],
    );
  }

  async deadLetters(id: string, limit: number): Promise<DeadLetterRow[]> {
    const { rows } = await this.pool.query<DeadLetterRow>(
      `SELECT ${DEAD_LETTER_COLUMNS} FROM audit_stream_dead_letters
        WHERE destination_id = $1 AND replayed_at IS NULL ORDER BY id LIMIT $2`,
      [id, limit],
    );
    return rows;
  }

  async countDeadLetters(ids: string[]): Promise<Map<string, number>> {
    const { rows } = await this.pool.query<{ id: string; count: string }>(
      `SELECT destination_id AS id, count(*)::text AS count FROM audit_stream_dead_letters
        WHERE destination_id = ANY($1::uuid[]) AND replayed_at IS NULL GROUP BY destination_id`,
      [ids],
    );
    return new Map(rows.map((row) => [row.id, Number(row.count)]));
  }

  /** Marks dead letters (all of the destination's, or these ids) for the runner to send again. */
  async requestReplay(id: string, deadLetterIds?: string[]): Promise<number> {
    const result = await this.pool.query(
      `UPDATE audit_stream_dead_letters SET replay_requested_at = now()
        WHERE destination_id = $1 AND replayed_at IS NULL AND ($2::bigint[] IS NULL OR id = ANY($2::bigint[]))`,
      [id, deadLetterIds ?? null],
    );
    return result.rowCount ?? 0;
  }

  async replayRequested(id: string, limit: number): Promise<DeadLetterRow[]> {
    const { rows } = await this.pool.query<DeadLetterRow>(
      `SELECT ${DEAD_LETTER_COLUMNS} FROM audit_stream_dead_letters
        WHERE destination_id = $1 AND replayed_at IS NULL AND replay_requested_at IS NOT NULL
        ORDER BY org_key, seal_seq, occurred_at, event_id LIMIT $2`,
      [id, limit],
    );
    return rows;
  }

  async markReplayed(ids: string[]): Promise<void> {
    await this.pool.query(
      `UPDATE audit_stream_dead_letters SET replayed_at = now() WHERE id = ANY($1::bigint[])`,
      [ids],
    );
  }

  /** A replayed dead letter refused again: kept, with the new error, and no longer requested. */
  async replayRefused(deadLetterId: string, error: string): Promise<void> {
    await this.pool.query(
      `UPDATE audit_stream_dead_letters SET replay_requested_at = NULL, error = $2 WHERE id = $1`,
      [deadLetterId, error.slice(0, 500)],
    );
  }
}
