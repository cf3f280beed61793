import { escapeLiteral, Pool, PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { Readable } from 'node:stream';
import { hash as digest } from 'node:crypto';
import { CANONICAL_COLUMNS_SQL } from '../audit';
import { SealLeaf } from '../audit';
import { Checkpoint } from './checkpoint-statement';
import { StoredSeal, VerifiedEvent } from './chain-verifier';

const TAB = 9;
const NEWLINE = 10;

const microsToIso = (micros: bigint, roundUp: boolean): string => {
  const ms = micros / 1000n + (roundUp && micros % 1000n !== 0n ? 1n : 0n);
  return new Date(Number(ms)).toISOString();
};

interface SealRow {
  org_key: string;
  seq: string;
  batch_id: string;
  event_count: number;
  first_us: string;
  last_us: string;
  merkle_root: Buffer;
  prev_hash: Buffer;
  seal_hash: Buffer;
}

export const toStoredSeal = (r: SealRow): StoredSeal => ({
  orgKey: r.org_key,
  seq: r.seq,
  batchId: r.batch_id,
  eventCount: r.event_count,
  firstAtMicros: r.first_us,
  lastAtMicros: r.last_us,
  merkleRoot: r.merkle_root,
  prevHash: r.prev_hash,
  sealHash: r.seal_hash,
});

const SEAL_COLUMNS = `org_key, seq::text AS seq, batch_id, event_count,
  (extract(epoch FROM first_at) * 1000000)::bigint::text AS first_us,
  (extract(epoch FROM last_at) * 1000000)::bigint::text AS last_us, merkle_root, prev_hash, seal_hash`;

/** SQL of tamper evidence: chains, checkpoints and the verifier's event stream. */
export class IntegrityRepository {
  /** `snapshot`: the connection of `inSnapshot`, which every read then goes through. */
  constructor(
    private readonly pool: Pool,
    private readonly snapshot?: PoolClient,
  ) {}

  private get db(): Pool | PoolClient {
    return this.snapshot ?? this.pool;
  }

  /**
   * Runs `work` with a repository whose reads all see one snapshot (REPEATABLE READ, read only, one
   * connection). Verification needs it: chains loaded first and events streamed after would otherwise
   * see batches committed in between as events that no seal covers. `snapshotId` (`exportSnapshot`): the
   * snapshot of another such repository, for a second connection reading in parallel.
   */
  async inSnapshot<T>(
    work: (repository: IntegrityRepository) => Promise<T>,
    snapshotId?: string,
  ): Promise<T> {
    const client = await this.pool.connect();
    let failure: Error | undefined;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      if (snapshotId !== undefined)
        await client.query(`SET TRANSACTION SNAPSHOT ${escapeLiteral(snapshotId)}`);
      const result = await work(new IntegrityRepository(this.pool, client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      failure = error as Error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release(failure);
    }
  }

  /** The id of this repository's snapshot (`inSnapshot`), valid while it runs, for `inSnapshot(work, id)`. */
  async exportSnapshot(): Promise<string> {
    if (!this.snapshot) throw new Error('exportSnapshot runs inside inSnapshot');
    const { rows } = await this.snapshot.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
    return rows[0].id;
  }

  /** Connections the pool may open: parallel reads beyond it would wait for each other forever. */
  maxConnections(): number {
    return this.pool.options.max ?? 10;
  }

  /**
   * Connections a parallel read can take now without waiting: a verification that holds its snapshot's
   * connection and waits for another, while every other connection is held the same way, would wait forever.
   */
  spareConnections(): number {
    return this.pool.idleCount + Math.max(0, this.maxConnections() - this.pool.totalCount);
  }

  /** Every organization chain (the '' key holds events without an organization). */
  async orgKeys(): Promise<string[]> {
    const { rows } = await this.db.query<{ org_key: string }>(
      `SELECT org_key FROM audit_chain_heads UNION SELECT org_key FROM audit_seal_queue ORDER BY 1`,
    );
    return rows.map((r) => r.org_key);
  }

  async seals(orgKey: string): Promise<StoredSeal[]> {
    const { rows } = await this.db.query<SealRow>(
      `SELECT ${SEAL_COLUMNS} FROM audit_seals WHERE org_key = $1 ORDER BY audit_seals.seq`,
      [orgKey],
    );
    return rows.map(toStoredSeal);
  }

  /** Seals whose events overlap [from, to) (all seals when both are null), for an archive manifest. */
  async sealsOverlapping(from: Date, to: Date): Promise<StoredSeal[]> {
    const { rows } = await this.db.query<SealRow>(
      `SELECT ${SEAL_COLUMNS} FROM audit_seals WHERE first_at < $2 AND last_at >= $1 ORDER BY org_key, audit_seals.seq`,
      [from, to],
    );
    return rows.map(toStoredSeal);
  }

  /** Event-time ranges of partitions archived and dropped (src/archive's audit_archives, cold or expired). */
  async archivedRanges(): Promise<Array<{ fromMicros: bigint; toMicros: bigint }>> {
    const { rows } = await this.db.query<{ from_us: string; to_us: string }>(
      `SELECT (extract(epoch FROM range_from) * 1000000)::bigint::text AS from_us,
              (extract(epoch FROM range_to) * 1000000)::bigint::text AS to_us
         FROM audit_archives WHERE state IN ('cold', 'expired')`,
    );
    return rows.map((r) => ({ fromMicros: BigInt(r.from_us), toMicros: BigInt(r.to_us) }));
  }

  /** Hashes kept of archived events of batches across a partition boundary, by batch (one organization). */
  async archivedLeaves(orgKey: string): Promise<Map<string, SealLeaf[]>> {
    const { rows } = await this.db.query<{ batch_id: string; id: string; event_hash: Buffer }>(
      `SELECT l.batch_id, l.id, l.event_hash FROM audit_archived_leaves l
        WHERE l.org_key = $1 AND EXISTS (SELECT 1 FROM audit_archives a WHERE a.state IN ('cold', 'expired')
                                           AND l.occurred_at >= a.range_from AND l.occurred_at < a.range_to)`,
      [orgKey],
    );
    const leaves = new Map<string, SealLeaf[]>();
    for (const r of rows)
      leaves.set(r.batch_id, [...(leaves.get(r.batch_id) ?? []), { id: r.id, hash: r.event_hash }]);
    return leaves;
  }

  async head(orgKey: string): Promise<{ seq: string; sealHash: Buffer } | null> {
    const { rows } = await this.db.query<{ seq: string; seal_hash: Buffer }>(
      `SELECT seq::text AS seq, seal_hash FROM audit_chain_heads WHERE org_key = $1`,
      [orgKey],
    );
    return rows[0] && rows[0].seq !== '0' ? { seq: rows[0].seq, sealHash: rows[0].seal_hash } : null;
  }

  async pendingBatches(orgKey: string): Promise<Set<string>> {
    const { rows } = await this.db.query<{ batch_id: string }>(
      `SELECT batch_id FROM audit_seal_queue WHERE org_key = $1`,
      [orgKey],
    );
    return new Set(rows.map((r) => r.batch_id));
  }

  async checkpoints(orgKey: string): Promise<Checkpoint[]> {
    const { rows } = await this.db.query<{
      id: string;
      org_key: string;
      seq: string;
      seal_hash: Buffer;
      signed_at: string;
      key_id: string;
      signature: Buffer;
    }>(
      `SELECT id::text AS id, org_key, seq::text AS seq, seal_hash,
              to_char(signed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS signed_at, key_id, signature
         FROM audit_checkpoints WHERE org_key = $1 ORDER BY audit_checkpoints.seq`,
      [orgKey],
    );
    return rows.map((r) => ({
      id: r.id,
      orgKey: r.org_key,
      seq: r.seq,
      sealHash: r.seal_hash,
      signedAt: r.signed_at,
      keyId: r.key_id,
      signature: r.signature,
    }));
  }

  /**
   * Streams the events (hot and warm) of one organization in [from, to) to `onEvent`, with the hash of each row's
   * canonical form: the line COPY prints for the canonical columns (event-hash.ts), hashed as the bytes
   * arrive, never parsed. Constant memory; Postgres only prints columns.
   */
  async streamEvents(
    orgKey: string | null,
    window: { fromMicros: bigint | null; toMicros: bigint | null },
    onEvent: (event: VerifiedEvent, orgKey: string) => void,
  ): Promise<void> {
    const where = [
      orgKey === null
        ? 'true'
        : orgKey === ''
          ? `(e.organization_id IS NULL OR e.organization_id = '')`
          : `e.organization_id = ${escapeLiteral(orgKey)}`,
    ];
    if (window.fromMicros !== null)
      where.push(`e.occurred_at >= ${escapeLiteral(microsToIso(window.fromMicros, false))}::timestamptz`);
    if (window.toMicros !== null)
      where.push(`e.occurred_at < ${escapeLiteral(microsToIso(window.toMicros, true))}::timestamptz`);
    // Hot and warm (detached) partitions: both are still in the database.
    const select = (table: string) =>
      `SELECT coalesce(e.organization_id, ''), e.batch_id, encode(e.event_hash, 'hex'), ${CANONICAL_COLUMNS_SQL}
         FROM ${table} e WHERE ${where.join(' AND ')}`;
    const sql = `COPY (${select('audit_events')} UNION ALL ${select('audit_events_warm')}) TO STDOUT`;
    const client = this.snapshot ?? (await this.pool.connect());
    let failure: Error | undefined;
    try {
      const stream = client.query(copyTo(sql)) as unknown as Readable;
      const onLine = (data: Buffer, start: number, end: number) => {
        const t0 = data.indexOf(TAB, start);
        const key = orgKey ?? unescapeCopy(data.toString('utf8', start, t0));
        onEvent(parseLine(data, t0 + 1, end), key);
      };
      let rest: Buffer | null = null;
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        let start = 0;
        if (rest) {
          // Only the line cut at the chunk boundary is copied, not the whole chunk.
          const end = chunk.indexOf(NEWLINE);
          if (end === -1) {
            rest = Buffer.concat([rest, chunk]);
            continue;
          }
          const line = Buffer.concat([rest, chunk.subarray(0, end)]);
          onLine(line, 0, line.length);
          start = end + 1;
        }
        for (let end = chunk.indexOf(NEWLINE, start); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
          onLine(chunk, start, end);
          start = end + 1;
        }
        rest = start < chunk.length ? chunk.subarray(start) : null;
      }
    } catch (error) {
      failure = error as Error;
      throw error;
    } finally {
      if (!this.snapshot) client.release(failure);
    }
  }
}

const unescapeCopy = (field: string): string =>
  field.includes('\\')
    ? field.replace(
        /\\(.)/g,
        (_, ch: string) => ({ t: '\t', n: '\n', r: '\r', b: '\b', f: '\f', v: '\v' })[ch] ?? ch,
      )
    : field;

/** `batch \t hash-hex \t id \t micros \t ...` (`\N` = NULL); the canonical form starts at the id. */
function parseLine(data: Buffer, start: number, end: number): VerifiedEvent {
  const t1 = data.indexOf(TAB, start);
  const t2 = data.indexOf(TAB, t1 + 1);
  const t3 = data.indexOf(TAB, t2 + 1);
  const batch = data.toString('latin1', start, t1);
  const stored = data.toString('latin1', t1 + 1, t2);
  return new StreamedEvent(
    data.toString('latin1', t2 + 1, t3),
    batch === '\\N' ? null : batch,
    data,
    t3 + 1,
    {
      stored: stored === '\\N' ? null : stored,
      // Hex out of hash(): a Buffer result costs Node 20 more than hashing the ~750 bytes.
      computed: digest('sha256', data.subarray(t2 + 1, end), 'hex'),
    },
  );
}

/**
 * A streamed row. Its hashes are kept in hex (compared as text), the Buffers made only if asked for; the
 * event time is read only if asked for (the verifier needs it for events outside the range's seals).
 */
class StreamedEvent implements VerifiedEvent {
  constructor(
    readonly id: string,
    readonly batchId: string | null,
    private readonly line: Buffer,
    private readonly microsAt: number,
    readonly hex: { stored: string | null; computed: string },
  ) {}

  get occurredAtMicros(): bigint {
    return BigInt(this.line.toString('latin1', this.microsAt, this.line.indexOf(TAB, this.microsAt)));
  }

  get storedHash(): Buffer | null {
    return this.hex.stored === null ? null : Buffer.from(this.hex.stored, 'hex');
  }

  get computedHash(): Buffer {
    return Buffer.from(this.hex.computed, 'hex');
  }
}
