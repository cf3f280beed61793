import { Pool } from 'pg';
import { IntegrityStatus, VerificationRecord, VerificationView } from './verification';

const iso = (value: Date | null): string | null => (value ? value.toISOString() : null);

/**
 * SQL of the verification records (audit_verifications, INSERT and SELECT only) and of the stored chain
 * state the integrity status shows. `organizationId` undefined: every organization (the platform-wide
 * record, null, for the verifications).
 */
export class VerificationRepository {
  constructor(private readonly pool: Pool) {}

  /** One statement: every row of a verification or none. */
  async record(rows: VerificationRecord[]): Promise<void> {
    if (rows.length === 0) return;
    await this.pool.query(
      `INSERT INTO audit_verifications (organization_id, started_at, finished_at, ok, checked_events, first_broken,
                                        range_from, range_to, trigger, actor_id)
       SELECT organization_id, started_at, finished_at, ok, checked_events, first_broken, range_from, range_to,
              trigger, actor_id
         FROM jsonb_to_recordset($1::jsonb) AS r(organization_id text, started_at timestamptz,
              finished_at timestamptz, ok boolean, checked_events bigint, first_broken jsonb,
              range_from timestamptz, range_to timestamptz, trigger text, actor_id text)`,
      [JSON.stringify(rows)],
    );
  }

  async latest(organizationId: string | undefined): Promise<VerificationView | null> {
    const { rows } = await this.pool.query<{
      started_at: Date;
      finished_at: Date;
      ok: boolean;
      checked_events: string;
      first_broken: VerificationView['firstBroken'];
      range_from: Date | null;
      range_to: Date | null;
    }>(
      `SELECT started_at, finished_at, ok, checked_events::text AS checked_events, first_broken, range_from, range_to
         FROM audit_verifications
        WHERE ${organizationId === undefined ? 'organization_id IS NULL' : 'organization_id = $1'}
        ORDER BY id DESC LIMIT 1`,
      organizationId === undefined ? [] : [organizationId],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      startedAt: r.started_at.toISOString(),
      finishedAt: r.finished_at.toISOString(),
      ok: r.ok,
      checkedEvents: Number(r.checked_events),
      firstBroken: r.first_broken,
      from: iso(r.range_from),
      to: iso(r.range_to),
    };
  }

  /** The newest checkpoint of the organization's chain (highest seal signed), or of any chain. */
  async newestCheckpoint(organizationId: string | undefined): Promise<IntegrityStatus['newestCheckpoint']> {
    const { rows } = await this.pool.query<{
      id: string;
      org_key: string;
      seq: string;
      signed_at: Date;
      key_id: string;
    }>(
      `SELECT id::text AS id, org_key, seq::text AS seq, signed_at, key_id FROM audit_checkpoints
        ${organizationId === undefined ? 'ORDER BY id DESC' : 'WHERE org_key = $1 ORDER BY seq DESC'} LIMIT 1`,
      organizationId === undefined ? [] : [organizationId],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      id: r.id,
      organizationId: r.org_key === '' ? null : r.org_key,
      seq: r.seq,
      signedAt: r.signed_at.toISOString(),
      keyId: r.key_id,
    };
  }

  /** Seals, the events they cover, the newest seal's time, and the batches queued for chaining. */
  async chain(organizationId: string | undefined): Promise<IntegrityStatus['chain']> {
    const where = organizationId === undefined ? '' : 'WHERE org_key = $1';
    const params = organizationId === undefined ? [] : [organizationId];
    const sealed = await this.pool.query<{ seals: string; events: string; last_at: Date | null }>(
      `SELECT count(*)::text AS seals, coalesce(sum(event_count), 0)::text AS events, max(sealed_at) AS last_at
         FROM audit_seals ${where}`,
      params,
    );
    const queued = await this.pool.query<{ batches: string }>(
      `SELECT count(*)::text AS batches FROM audit_seal_queue ${where}`,
      params,
    );
    const { seals, events, last_at } = sealed.rows[0];
    const pendingBatches = Number(queued.rows[0].batches);
    if (Number(seals) === 0 && pendingBatches === 0) return null;
    return {
      seals: Number(seals),
      sealedEvents: Number(events),
      lastSealAt: iso(last_at),
      pendingBatches,
    };
  }
}
