import { Pool } from 'pg';
import { EVENT_ROW_COLUMNS, EventRow } from '../query';

/** What the streamer needs of a destination to read its part of the trail. */
export interface ReaderDestination {
  id: string;
  /** Only this organization's chain; null: every organization. */
  organizationId: string | null;
  /** Events before this instant are not delivered (a backfill starts in the past, a new destination now). */
  startFrom: Date;
}

/** A run of one organization chain's seals, delivered together: the cursor moves from `afterSeq` to `toSeq`. */
export interface ChainAdvance {
  orgKey: string;
  afterSeq: string;
  toSeq: string;
}

export interface TrailRow extends EventRow {
  orgKey: string;
  sealSeq: string;
}

/** The next events due to a destination, in chain order per organization, and how its cursors move. */
export interface TrailBatch {
  rows: TrailRow[];
  advances: ChainAdvance[];
  /** Events the seals count but no table holds any more (their month went cold): not delivered. */
  unavailable: number;
}

interface SealRow {
  org_key: string;
  seq: string;
  cursor: string;
  batch_id: string;
  event_count: number;
  first_at: Date;
  last_at: Date;
}

/** Chains read per batch, and seals per chain: a backlog is delivered in bounded steps, fairly across chains. */
const CHAINS_PER_BATCH = 64;
const SEALS_PER_CHAIN = 200;

/**
 * Reads the committed trail in the order its organizations' chains fixed it. Every batch the writer
 * commits carries one seal per organization, numbered in commit order under the chain head's lock; a
 * destination's cursor is the last seal it has, per organization. So delivery is gapless and in order per
 * organization whatever the number of writers, and resumes exactly where it stopped. Events captured inside
 * an application transaction are sealed by the integrity job (within 10 s), then delivered.
 */
export class TrailReader {
  constructor(private readonly pool: Pool) {}

  /** Up to about `maxEvents` (whole seals; at least one), or null when the destination is up to date. */
  async nextBatch(destination: ReaderDestination, maxEvents: number): Promise<TrailBatch | null> {
    await this.startNewChains(destination);
    const seals = await this.pendingSeals(destination.id);
    if (seals.length === 0) return null;

    const chosen: SealRow[] = [];
    let budget = maxEvents;
    const stopped = new Set<string>();
    for (const seal of seals) {
      if (stopped.has(seal.org_key)) continue;
      if (chosen.length > 0 && budget - seal.event_count < 0) {
        // Seals of a chain stay consecutive: once one does not fit, the chain waits for the next batch.
        stopped.add(seal.org_key);
        continue;
      }
      chosen.push(seal);
      budget -= seal.event_count;
    }

    const byOrg = new Map<string, SealRow[]>();
    for (const seal of chosen) byOrg.set(seal.org_key, [...(byOrg.get(seal.org_key) ?? []), seal]);
    const rows: TrailRow[] = [];
    const advances: ChainAdvance[] = [];
    let unavailable = 0;
    for (const [orgKey, orgSeals] of byOrg) {
      const found = await this.eventsOf(orgKey, orgSeals, destination.startFrom);
      const expected = orgSeals.reduce((sum, seal) => sum + seal.event_count, 0);
      unavailable += Math.max(
        0,
        expected - this.countBeforeStart(orgSeals, destination.startFrom) - found.length,
      );
      rows.push(...found);
      advances.push({ orgKey, afterSeq: orgSeals[0].cursor, toSeq: orgSeals[orgSeals.length - 1].seq });
    }
    return { rows, advances, unavailable };
  }

  /**
   * Chains the destination has no cursor for yet start before their first seal holding an event at or after
   * `startFrom` (seals of concurrent batches overlap in time, so not after the last seal ending before it),
   * at their head when none does: once a cursor exists, it only moves forward.
   */
  private async startNewChains(destination: ReaderDestination): Promise<void> {
    await this.pool.query(
      `INSERT INTO audit_stream_cursors (destination_id, org_key, seq)
       SELECT $1, h.org_key,
              coalesce((SELECT min(s.seq) - 1 FROM audit_seals s WHERE s.org_key = h.org_key AND s.last_at >= $3), h.seq)
         FROM audit_chain_heads h
        WHERE ($2::text IS NULL OR h.org_key = $2)
          AND NOT EXISTS (SELECT 1 FROM audit_stream_cursors c
                           WHERE c.destination_id = $1 AND c.org_key = h.org_key)
       ON CONFLICT DO NOTHING`,
      [destination.id, destination.organizationId, destination.startFrom],
    );
  }

  /** The next seals of the chains that have any, least recently served chains first. */
  private async pendingSeals(destinationId: string): Promise<SealRow[]> {
    const { rows } = await this.pool.query<SealRow>(
      `SELECT s.org_key, s.seq::text AS seq, p.seq::text AS cursor, s.batch_id, s.event_count, s.first_at, s.last_at
         FROM (SELECT c.org_key, c.seq, c.updated_at
                 FROM audit_stream_cursors c
                 JOIN audit_chain_heads h ON h.org_key = c.org_key AND h.seq > c.seq
                WHERE c.destination_id = $1
                ORDER BY c.updated_at, c.org_key
                LIMIT ${CHAINS_PER_BATCH}) p
        CROSS JOIN LATERAL (
               SELECT * FROM audit_seals s
                WHERE s.org_key = p.org_key AND s.seq > p.seq
                ORDER BY s.seq LIMIT ${SEALS_PER_CHAIN}) s
        ORDER BY p.updated_at, p.org_key, s.seq`,
      [destinationId],
    );
    return rows;
  }

  /**
   * The events of these seals of one chain (hot and warm tables), in chain order: seal, time, id. Postgres
   * numbers and orders them (joining each event's batch to its seal), so Node only reads the rows.
   */
  private async eventsOf(orgKey: string, seals: SealRow[], startFrom: Date): Promise<TrailRow[]> {
    const from = new Date(Math.max(Math.min(...seals.map((s) => s.first_at.getTime())), startFrom.getTime()));
    // Seal bounds are in milliseconds; events keep microseconds.
    const to = new Date(Math.max(...seals.map((s) => s.last_at.getTime())) + 1);
    const org = orgKey === '' ? 'organization_id IS NULL' : 'organization_id = $5';
    const where = `${org} AND occurred_at >= $1 AND occurred_at < $2 AND batch_id = ANY($3::uuid[])`;
    const params: unknown[] = [from, to, seals.map((s) => s.batch_id), seals.map((s) => s.seq)];
    if (orgKey !== '') params.push(orgKey);
    const { rows } = await this.pool.query<TrailRow>(
      `SELECT e.*, s.seq::text AS "sealSeq"
         FROM (SELECT ${EVENT_ROW_COLUMNS}, batch_id FROM audit_events WHERE ${where}
               UNION ALL
               SELECT ${EVENT_ROW_COLUMNS}, batch_id FROM audit_events_warm WHERE ${where}) e
         JOIN unnest($3::uuid[], $4::bigint[]) AS s(batch_id, seq) USING (batch_id)
        ORDER BY s.seq, e.occurred_at, e.id`,
      params,
    );
    for (const row of rows) row.orgKey = orgKey;
    return rows;
  }

  /** Events of seals that straddle `startFrom` are not all due: only an upper bound of them is known. */
  private countBeforeStart(seals: SealRow[], startFrom: Date): number {
    return seals.filter((seal) => seal.first_at < startFrom).reduce((sum, seal) => sum + seal.event_count, 0);
  }
}

/** Dead-lettered events to send again, read back from the trail (hot and warm tables), in chain order. */
export async function readEventsByRef(
  pool: Pool,
  refs: ReadonlyArray<{ eventId: string; occurredAt: Date; orgKey: string; sealSeq: string }>,
): Promise<TrailRow[]> {
  if (refs.length === 0) return [];
  const byId = new Map(refs.map((ref) => [ref.eventId, ref]));
  const times = refs.map((ref) => ref.occurredAt.getTime());
  const where = `id = ANY($1::uuid[]) AND occurred_at >= $2 AND occurred_at <= $3`;
  const params = [[...byId.keys()], new Date(Math.min(...times)), new Date(Math.max(...times) + 1)];
  const { rows } = await pool.query<EventRow>(
    `SELECT ${EVENT_ROW_COLUMNS} FROM audit_events WHERE ${where}
     UNION ALL SELECT ${EVENT_ROW_COLUMNS} FROM audit_events_warm WHERE ${where}`,
    params,
  );
  return rows.map((row) => {
    const ref = byId.get(row.id)!;
    return { ...row, orgKey: ref.orgKey, sealSeq: ref.sealSeq };
  });
}
