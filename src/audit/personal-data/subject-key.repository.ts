import type { Pool } from 'pg';
import type { SubjectKeyRecord } from './subject-keyring';

interface Queryable {
  query(sql: string, values?: unknown[]): Promise<unknown>;
}

/**
 * How long after an erasure a key can still have been made by a replica that did not know of it (key
 * cache renewal, clock skew): keys created up to this long after an erasure are erased too when stored.
 * Conservative by design: a subject's events captured in the minutes right after its erasure are
 * unreadable as well.
 */
export const ERASURE_MARGIN_MS = 5 * 60 * 1000;

export interface StoredSubjectKey {
  id: string;
  organization_id: string | null;
  subject_id: string;
  kek_id: string;
  wrapped_key: Buffer | null;
}

export interface ErasureResult {
  organizationId: string | null;
  subjectId: string;
  keysDestroyed: number;
  erasedAt: Date;
}

/** The SQL of subject keys: stored with the events they encrypt, read to decrypt, destroyed to erase. */
export class SubjectKeyRepository {
  constructor(private readonly pool: Pool) {}

  /**
   * Stores keys carried by a batch, inside the batch's transaction (so an event is never stored without its
   * key). A key already stored is left alone. A key of a subject erased after (or up to ERASURE_MARGIN_MS
   * before) the key was made is stored already destroyed: events encrypted with it in flight during the
   * erasure stay unreadable. Erasure locks the table against these inserts while it runs.
   */
  static async store(client: Queryable, keys: readonly SubjectKeyRecord[]): Promise<void> {
    if (keys.length === 0) return;
    await client.query(
      `INSERT INTO audit_subject_keys (id, organization_id, subject_id, kek_id, wrapped_key, created_at, erased_at)
       SELECT k.id, k.org, k.subject, k.kek,
              CASE WHEN x.erased THEN NULL ELSE decode(k.wrapped, 'base64') END,
              k.created_at,
              CASE WHEN x.erased THEN now() END
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
                AS k(id, org, subject, kek, wrapped, created_at)
        CROSS JOIN LATERAL (
          SELECT EXISTS (
            SELECT 1 FROM audit_subject_erasures e
             WHERE e.subject_id = k.subject AND e.organization_id IS NOT DISTINCT FROM k.org
               AND e.erased_at >= k.created_at - make_interval(secs => $7::double precision / 1000)
          ) AS erased
        ) x
       ON CONFLICT (id) DO NOTHING`,
      [
        keys.map((k) => k.id),
        keys.map((k) => k.organizationId),
        keys.map((k) => k.subjectId),
        keys.map((k) => k.kekId),
        keys.map((k) => k.wrappedKey),
        keys.map((k) => new Date(k.createdAt).toISOString()),
        ERASURE_MARGIN_MS,
      ],
    );
  }

  async find(ids: readonly string[]): Promise<StoredSubjectKey[]> {
    const result = await this.pool.query<StoredSubjectKey>(
      `SELECT id, organization_id, subject_id, kek_id, wrapped_key FROM audit_subject_keys WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return result.rows;
  }

  /**
   * Destroys every key of the subject and records the erasure, under a lock that waits for batches storing
   * keys to commit and holds new ones back until the erasure is committed: no key of the subject made
   * before the erasure survives it, whichever replica made it.
   */
  async erase(
    organizationId: string | null,
    subjectId: string,
    erasedBy: string | null,
  ): Promise<ErasureResult> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('LOCK TABLE audit_subject_keys IN SHARE ROW EXCLUSIVE MODE');
      const { rows } = await client.query<{ erased_at: Date; keys_destroyed: number }>(
        `WITH destroyed AS (
           UPDATE audit_subject_keys SET wrapped_key = NULL, erased_at = now()
            WHERE subject_id = $2 AND organization_id IS NOT DISTINCT FROM $1 AND wrapped_key IS NOT NULL
           RETURNING id)
         INSERT INTO audit_subject_erasures (organization_id, subject_id, erased_by, keys_destroyed)
         SELECT $1, $2, $3, count(*) FROM destroyed
         RETURNING erased_at, keys_destroyed`,
        [organizationId, subjectId, erasedBy],
      );
      await client.query('COMMIT');
      return {
        organizationId,
        subjectId,
        keysDestroyed: rows[0].keys_destroyed,
        erasedAt: rows[0].erased_at,
      };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Reclaims the space of destroyed keys' old row versions (the wrapped keys), best effort: only the
   * table's owner may; for anyone else autovacuum does it later.
   */
  async vacuum(): Promise<boolean> {
    try {
      await this.pool.query('VACUUM audit_subject_keys');
      return true;
    } catch {
      return false;
    }
  }
}
