import { Pool, PoolClient } from 'pg';
import { Checkpoint } from './checkpoint-statement';

/** Key of the advisory lock of the integrity job: one replica chains and signs at a time. */
const INTEGRITY_LOCK_KEY = 7_331_006;

export interface QueuedSealRow {
  org_key: string;
  batch_id: string;
  event_count: number;
  first_ms: string;
  last_ms: string;
  merkle_root: Buffer;
}

/** Key of the advisory lock of head publishing (one replica writes the heads at a time). */
export const HEAD_LOCK_KEY = 7_331_007;

export interface ChainHead {
  orgKey: string;
  seq: string;
  sealHash: Buffer;
  /** ISO 8601 (ms), the newest event of the head seal. */
  lastEventAt: string;
}

/** The maintenance side: chaining queued seals and recording checkpoints, under one advisory lock. */
export class IntegrityMaintenanceRepository {
  constructor(private readonly pool: Pool) {}

  /**
   * Runs `work` in a transaction holding the integrity lock (or `key`: head publishing has its own, so a
   * slow archive store never holds up chaining); null when another replica holds it.
   */
  async withLock<T>(work: (client: PoolClient) => Promise<T>, key = INTEGRITY_LOCK_KEY): Promise<T | null> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_xact_lock($1) AS locked',
        [key],
      );
      const result = rows[0].locked ? await work(client) : null;
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Takes up to `limit` queued seals out of the queue (deleted in the caller's transaction). */
  async takeQueued(client: PoolClient, limit = 5000): Promise<QueuedSealRow[]> {
    const { rows } = await client.query<QueuedSealRow>(
      `DELETE FROM audit_seal_queue q USING (
         SELECT org_key, batch_id FROM audit_seal_queue ORDER BY first_at, batch_id LIMIT $1 FOR UPDATE SKIP LOCKED) t
        WHERE q.org_key = t.org_key AND q.batch_id = t.batch_id
       RETURNING q.org_key, q.batch_id, q.event_count,
                 (extract(epoch FROM q.first_at) * 1000)::bigint::text AS first_ms,
                 (extract(epoch FROM q.last_at) * 1000)::bigint::text AS last_ms, q.merkle_root`,
      [limit],
    );
    return rows.sort((a, b) => Number(a.first_ms) - Number(b.first_ms) || (a.batch_id < b.batch_id ? -1 : 1));
  }

  /** Heads that moved past their latest checkpoint (or never had one). */
  async headsToSign(client: PoolClient): Promise<Array<{ orgKey: string; seq: string; sealHash: Buffer }>> {
    const { rows } = await client.query<{ org_key: string; seq: string; seal_hash: Buffer }>(
      `SELECT h.org_key, h.seq::text AS seq, h.seal_hash FROM audit_chain_heads h
        WHERE h.seq > 0
          AND h.seq > coalesce((SELECT max(c.seq) FROM audit_checkpoints c WHERE c.org_key = h.org_key), 0)
        ORDER BY h.org_key`,
    );
    return rows.map((r) => ({ orgKey: r.org_key, seq: r.seq, sealHash: r.seal_hash }));
  }

  /** Every chain's head with the time of its newest event, for publishing (one row per organization). */
  async currentHeads(client: PoolClient): Promise<ChainHead[]> {
    const { rows } = await client.query<{ org_key: string; seq: string; seal_hash: Buffer; last_at: string }>(
      `SELECT h.org_key, h.seq::text AS seq, h.seal_hash,
              to_char(s.last_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS last_at
         FROM audit_chain_heads h JOIN audit_seals s ON s.org_key = h.org_key AND s.seq = h.seq
        WHERE h.seq > 0 ORDER BY h.org_key`,
    );
    return rows.map((r) => ({
      orgKey: r.org_key,
      seq: r.seq,
      sealHash: r.seal_hash,
      lastEventAt: r.last_at,
    }));
  }

  /** The hash of seal `seq` of each organization asked for (absent: no such seal). */
  async sealHashes(
    client: PoolClient,
    at: Array<{ orgKey: string; seq: string }>,
  ): Promise<Map<string, Buffer>> {
    const { rows } = await client.query<{ org_key: string; seal_hash: Buffer }>(
      `SELECT s.org_key, s.seal_hash FROM unnest($1::text[], $2::bigint[]) AS t(org_key, seq)
         JOIN audit_seals s ON s.org_key = t.org_key AND s.seq = t.seq`,
      [at.map((a) => a.orgKey), at.map((a) => a.seq)],
    );
    return new Map(rows.map((r) => [r.org_key, r.seal_hash]));
  }

  async databaseName(): Promise<string> {
    const { rows } = await this.pool.query<{ name: string }>('SELECT current_database() AS name');
    return rows[0].name;
  }

  async insertCheckpoint(client: PoolClient, c: Omit<Checkpoint, 'id'>): Promise<void> {
    await client.query(
      `INSERT INTO audit_checkpoints (org_key, seq, seal_hash, signed_at, key_id, signature)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [c.orgKey, c.seq, c.sealHash, c.signedAt, c.keyId, c.signature],
    );
  }
}

