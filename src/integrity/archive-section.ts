import { Pool } from 'pg';
import { IntegrityRepository, toStoredSeal } from './integrity.repository';
import { StoredSeal } from './chain-verifier';
import { ManifestSignature } from './manifest-signature';

/** A seal as written in an archive manifest (hex for binary, strings for 64-bit numbers). */
export interface ManifestSeal {
  seq: string;
  batchId: string;
  eventCount: number;
  firstAtMicros: string;
  lastAtMicros: string;
  merkleRoot: string;
  prevHash: string;
  sealHash: string;
  /** True: the archive holds this batch's events of the range (plus `outsideLeaves`). False: link only. */
  covers: boolean;
  /** [event id, event hash hex] of the batch's events outside the archived range (batch across a boundary). */
  outsideLeaves: Array<[string, string]>;
}

export interface ManifestCheckpoint {
  id: string;
  seq: string;
  sealHash: string;
  signedAt: string;
  keyId: string;
  /** Ed25519 signature, base64. */
  signature: string;
}

/** The `integrity` section of an archive manifest (version 1); the archive job adds `manifestSignature`. */
export interface ArchiveIntegritySection {
  version: 1;
  from: string;
  to: string;
  chains: Array<{
    organizationId: string | null;
    orgKey: string;
    /** Contiguous run of the chain: from the first seal covering the range to the checkpoint's seal. */
    seals: ManifestSeal[];
    /** The first checkpoint at or after the last covering seal; null when none was signed yet. */
    checkpoint: ManifestCheckpoint | null;
  }>;
  /** Ed25519 over the whole manifest (manifest-signature.ts); absent from a section printed on its own. */
  manifestSignature?: ManifestSignature;
}

const hex = (b: Buffer) => b.toString('hex');

/**
 * The `integrity` section an archive manifest embeds for the events of [from, to) (a partition's range):
 * for each organization, the seals of the batches holding those events, the chain from the first of
 * them to the first signed checkpoint that covers them, the checkpoint, and for batches that cross the
 * range boundary the hashes of their events left outside. With it, the archive file and the public key,
 * `npm run integrity -- verify-archive` checks every event, batch, link and signature offline.
 */
export async function archiveIntegritySection(
  pool: Pool,
  from: Date,
  to: Date,
): Promise<ArchiveIntegritySection> {
  const repository = new IntegrityRepository(pool);
  const covering = await repository.sealsOverlapping(from, to);
  const byOrg = new Map<string, StoredSeal[]>();
  for (const seal of covering) byOrg.set(seal.orgKey, [...(byOrg.get(seal.orgKey) ?? []), seal]);

  const chains: ArchiveIntegritySection['chains'] = [];
  for (const [orgKey, seals] of byOrg) {
    const covered = new Set(seals.map((s) => s.batchId));
    const minSeq = seals[0].seq;
    const maxSeq = seals[seals.length - 1].seq;
    const checkpoint =
      (await repository.checkpoints(orgKey)).find((c) => BigInt(c.seq) >= BigInt(maxSeq)) ?? null;
    const { rows } = await pool.query(
      `SELECT org_key, seq::text AS seq, batch_id, event_count,
              (extract(epoch FROM first_at) * 1000000)::bigint::text AS first_us,
              (extract(epoch FROM last_at) * 1000000)::bigint::text AS last_us, merkle_root, prev_hash, seal_hash
         FROM audit_seals WHERE org_key = $1 AND seq BETWEEN $2 AND $3 ORDER BY audit_seals.seq`,
      [orgKey, minSeq, checkpoint?.seq ?? maxSeq],
    );
    const segment = rows.map(toStoredSeal);
    const manifestSeals: ManifestSeal[] = [];
    for (const seal of segment) {
      const covers = covered.has(seal.batchId);
      manifestSeals.push({
        seq: seal.seq,
        batchId: seal.batchId,
        eventCount: seal.eventCount,
        firstAtMicros: seal.firstAtMicros,
        lastAtMicros: seal.lastAtMicros,
        merkleRoot: hex(seal.merkleRoot),
        prevHash: hex(seal.prevHash),
        sealHash: hex(seal.sealHash),
        covers,
        outsideLeaves: covers ? await outsideLeaves(pool, seal, from, to) : [],
      });
    }
    chains.push({
      organizationId: orgKey === '' ? null : orgKey,
      orgKey,
      seals: manifestSeals,
      checkpoint: checkpoint && {
        id: checkpoint.id,
        seq: checkpoint.seq,
        sealHash: hex(checkpoint.sealHash),
        signedAt: checkpoint.signedAt,
        keyId: checkpoint.keyId,
        signature: checkpoint.signature.toString('base64'),
      },
    });
  }
  return { version: 1, from: from.toISOString(), to: to.toISOString(), chains };
}

/**
 * Hashes of a batch's events outside [from, to): only batches that cross the boundary have any. Read from
 * the hot and the warm tables (the neighbouring month may already be detached) and from the leaves kept
 * when a neighbouring month went cold (retainBoundaryLeaves). (Not through the view
 * `audit_events_all`: it was created before `event_hash` existed and does not have it.)
 */
async function outsideLeaves(
  pool: Pool,
  seal: StoredSeal,
  from: Date,
  to: Date,
): Promise<Array<[string, string]>> {
  const first = Number(BigInt(seal.firstAtMicros) / 1000n);
  const last = Number(BigInt(seal.lastAtMicros) / 1000n);
  if (first >= from.getTime() && last < to.getTime()) return [];
  const where = `batch_id = $1 AND coalesce(organization_id, '') = $6 AND occurred_at >= $2 AND occurred_at <= $3
                 AND (occurred_at < $4 OR occurred_at >= $5)`;
  // UNION, not UNION ALL: a month exported again may have its leaves both kept and still in its table.
  const { rows } = await pool.query<{ id: string; event_hash: Buffer }>(
    `SELECT id, event_hash FROM audit_events WHERE ${where}
     UNION SELECT id, event_hash FROM audit_events_warm WHERE ${where}
     UNION SELECT id, event_hash FROM audit_archived_leaves
      WHERE batch_id = $1 AND org_key = $6 AND occurred_at >= $2 AND occurred_at <= $3
        AND (occurred_at < $4 OR occurred_at >= $5)`,
    [seal.batchId, new Date(first), new Date(last + 1), from, to, seal.orgKey],
  );
  return rows.map((r) => [r.id, hex(r.event_hash)]);
}

/**
 * Keeps the hashes of this range's events that belong to batches crossing its boundary (the seals of the
 * section with outside leaves), before the partition is dropped: the neighbouring month's archive needs
 * them as its own outside leaves. Idempotent (a month exported again keeps the same rows).
 */
export async function retainBoundaryLeaves(
  pool: Pool,
  section: ArchiveIntegritySection,
  from: Date,
  to: Date,
): Promise<void> {
  const crossing = section.chains.flatMap((chain) =>
    chain.seals.filter((s) => s.covers && s.outsideLeaves.length > 0).map((s) => s.batchId),
  );
  if (crossing.length === 0) return;
  await pool.query(
    `INSERT INTO audit_archived_leaves (org_key, batch_id, id, occurred_at, event_hash)
     SELECT coalesce(organization_id, ''), batch_id, id, occurred_at, event_hash FROM audit_events_warm
      WHERE batch_id = ANY($1::uuid[]) AND occurred_at >= $2 AND occurred_at < $3 AND event_hash IS NOT NULL
     ON CONFLICT DO NOTHING`,
    [crossing, from, to],
  );
}
