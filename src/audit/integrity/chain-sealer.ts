import { randomUUID } from 'node:crypto';
import { merkleRoot, PendingSeal, SealBody, sealHash } from './seal';

/** Anything that runs a parameterized query in the caller's transaction (pg client, TypeORM runner). */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}
const rowsOf = <T>(result: unknown): T[] =>
  Array.isArray(result) ? (result as T[]) : ((result as { rows: T[] }).rows ?? []);

/** A batch of one organization, ready to be chained. */
export interface SealItem {
  orgKey: string;
  batchId: string;
  eventCount: number;
  firstAtMs: number;
  lastAtMs: number;
  merkleRoot: Buffer;
}

/** Marks the rows this transaction writes into audit_events with `batchId` (the column's default). */
export async function tagBatch(db: Queryable, batchId: string = randomUUID()): Promise<string> {
  await db.query(`SELECT set_config('audit.batch_id', $1, true)`, [batchId]);
  return batchId;
}

export const sealItems = (batchId: string, pending: PendingSeal[]): SealItem[] =>
  pending.map((p) => ({
    orgKey: p.orgKey,
    batchId,
    eventCount: p.leaves.length,
    firstAtMs: p.firstAtMs,
    lastAtMs: p.lastAtMs,
    merkleRoot: merkleRoot(p.leaves),
  }));

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * Appends `items` to their organizations' chains inside the caller's transaction.
 *
 * Each organization's head row is locked (upsert, in byte order of the keys, so two batches touching
 * the same organizations always lock in the same order and cannot deadlock), the seals are numbered
 * from the head and linked to it, and the heads move forward. The lock is taken after the COPY and held
 * until COMMIT, so concurrent batches of one organization (from any number of instances) append one
 * after the other: the chain never forks, and no request ever waits on it.
 */
export async function appendSeals(db: Queryable, items: SealItem[]): Promise<SealBody[]> {
  if (items.length === 0) return [];
  const orgKeys = [...new Set(items.map((item) => item.orgKey))].sort(byteOrder);
  const heads = rowsOf<{ org_key: string; seq: string; seal_hash: Buffer }>(
    await db.query(
      `INSERT INTO "audit_chain_heads" ("org_key", "seq", "seal_hash")
       SELECT k, 0, '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
         FROM unnest($1::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n
       ON CONFLICT ("org_key") DO UPDATE SET "updated_at" = now()
       RETURNING "org_key", "seq"::text AS seq, "seal_hash"`,
      [orgKeys],
    ),
  );
  const head = new Map(heads.map((h) => [h.org_key, { seq: BigInt(h.seq), hash: h.seal_hash }]));
  const seals: Array<SealBody & { hash: Buffer }> = [];
  for (const item of items) {
    const current = head.get(item.orgKey)!;
    const body: SealBody = {
      orgKey: item.orgKey,
      seq: String(current.seq + 1n),
      batchId: item.batchId,
      eventCount: item.eventCount,
      firstAtMicros: String(item.firstAtMs * 1000),
      lastAtMicros: String(item.lastAtMs * 1000),
      merkleRoot: item.merkleRoot,
      prevHash: current.hash,
    };
    const hash = sealHash(body);
    seals.push({ ...body, hash });
    head.set(item.orgKey, { seq: current.seq + 1n, hash });
  }
  await db.query(
    `WITH s AS (
       INSERT INTO "audit_seals" ("org_key", "seq", "batch_id", "event_count", "first_at", "last_at",
                                  "merkle_root", "prev_hash", "seal_hash")
       SELECT o, q, b, c, 'epoch'::timestamptz + f * interval '1 microsecond', 'epoch'::timestamptz + l * interval '1 microsecond', r, p, h
         FROM unnest($1::text[], $2::bigint[], $3::uuid[], $4::int[], $5::bigint[], $6::bigint[],
                     $7::bytea[], $8::bytea[], $9::bytea[]) AS t(o, q, b, c, f, l, r, p, h))
     UPDATE "audit_chain_heads" AS head SET "seq" = t.q, "seal_hash" = t.h, "updated_at" = now()
       FROM unnest($10::text[], $11::bigint[], $12::bytea[]) AS t(o, q, h)
      WHERE head."org_key" = t.o`,
    [
      seals.map((s) => s.orgKey),
      seals.map((s) => s.seq),
      seals.map((s) => s.batchId),
      seals.map((s) => s.eventCount),
      seals.map((s) => s.firstAtMicros),
      seals.map((s) => s.lastAtMicros),
      seals.map((s) => s.merkleRoot),
      seals.map((s) => s.prevHash),
      seals.map((s) => s.hash),
      [...head.keys()],
      [...head.values()].map((h) => String(h.seq)),
      [...head.values()].map((h) => h.hash),
    ],
  );
  return seals;
}
