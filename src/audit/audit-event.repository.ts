import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { QueryRunner } from 'typeorm';
import { AUDIT_EVENT_COLUMNS, eventValues } from './copy-format';
import { AuditEvent } from './audit.types';
import { SubjectKeyRepository } from './personal-data/subject-key.repository';
import type { SubjectKeyRecord } from './personal-data/subject-keyring';
import type { PoisonedEvent } from './queued-event';
import { appendSeals, sealItems, tagBatch } from './integrity/chain-sealer';
import { groupForSeals, merkleRoot, orgKeyOf, SealGrouper } from './integrity/seal';

const COLUMN_LIST = AUDIT_EVENT_COLUMNS.join(', ');
const INSERT_ONE = `INSERT INTO audit_events (${COLUMN_LIST}, batch_id) VALUES (${AUDIT_EVENT_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}, $${AUDIT_EVENT_COLUMNS.length + 1})`;
/** ~256 KiB chunks: few enough writes to the socket, small enough to keep memory flat. */
const CHUNK_BYTES = 256 * 1024;

/**
 * Lines of COPY text grouped into chunks, so a batch is never held twice in memory as one big string.
 * Each chunk is joined in one go (a flat string) and, when `seals` is given, read for the seal inputs.
 */
function* chunks(lines: readonly string[], seals?: SealGrouper): Generator<string> {
  let from = 0;
  let size = 0;
  for (let i = 0; i < lines.length; i++) {
    size += lines[i].length;
    if (size < CHUNK_BYTES && i < lines.length - 1) continue;
    const chunk = lines.slice(from, i + 1).join('');
    seals?.add(chunk);
    yield chunk;
    from = i + 1;
    size = 0;
  }
}

/**
 * The only code that writes audit events: COPY into the partitioned table, and in the same transaction
 * the batch's seals (one per organization: Merkle root of its events' hashes, chained to that
 * organization's previous seal; see src/audit/integrity/chain-sealer.ts).
 */
export class AuditEventRepository {
  /** `onKeysStored`: told the ids of subject keys once a transaction storing them has committed. */
  constructor(
    private readonly pool: Pool,
    private readonly onKeysStored: (ids: string[]) => void = () => undefined,
  ) {}

  /** One event inside the caller's transaction (transactional capture): commits or rolls back with it. */
  static async insertWithin(
    runner: QueryRunner,
    event: AuditEvent,
    keys: readonly SubjectKeyRecord[] = [],
  ): Promise<void> {
    await SubjectKeyRepository.store(runner, keys);
    const values = eventValues(event);
    const batchId = randomUUID();
    await runner.query(INSERT_ONE, [...values, batchId]);
    // Chained later by the integrity job: taking the chain lock here would hold it for the rest of the
    // application's transaction.
    const at = event.occurredAt.toISOString();
    await runner.query(
      `INSERT INTO audit_seal_queue (org_key, batch_id, event_count, first_at, last_at, merkle_root)
       VALUES ($1, $2, 1, $3, $3, $4)`,
      [
        orgKeyOf(event.organizationId),
        batchId,
        at,
        merkleRoot([{ id: event.id, hash: values[values.length - 1] as Buffer }]),
      ],
    );
  }

  /**
   * COPY a batch of encoded lines (`encodeEvent`) in one transaction, with the subject keys its events
   * carry: all rows or none.
   */
  async copy(lines: readonly string[], keys: readonly SubjectKeyRecord[] = []): Promise<void> {
    await this.withClient(async (client) => {
      await client.query('BEGIN');
      try {
        await SubjectKeyRepository.store(client, keys);
        const batchId = await tagBatch(client);
        const seals = new SealGrouper();
        await this.copyInto(client, 'audit_events', lines, seals);
        await appendSeals(client, sealItems(batchId, seals.pending()));
        await client.query('COMMIT');
        if (keys.length > 0) this.onKeysStored(keys.map((key) => key.id));
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  /**
   * Idempotent variant, for a retry after a failure that may have happened after COMMIT (connection lost
   * while waiting for the answer): COPY into a temporary table, then insert only the ids not yet stored,
   * and seal exactly the rows inserted (none when the batch had committed: no duplicate, no extra seal).
   */
  async copyIdempotent(lines: readonly string[], keys: readonly SubjectKeyRecord[] = []): Promise<number> {
    return this.withClient(async (client) => {
      await client.query('BEGIN');
      try {
        await SubjectKeyRepository.store(client, keys);
        await client.query(
          `CREATE TEMP TABLE audit_events_staging (LIKE audit_events INCLUDING DEFAULTS) ON COMMIT DROP`,
        );
        const batchId = await tagBatch(client);
        await this.copyInto(client, 'audit_events_staging', lines);
        const result = await client.query<{
          id: string;
          organization_id: string | null;
          at_ms: string;
          event_hash: Buffer;
        }>(
          `INSERT INTO audit_events SELECT * FROM audit_events_staging ON CONFLICT (occurred_at, id) DO NOTHING
           RETURNING id, organization_id, (extract(epoch FROM occurred_at) * 1000)::bigint::text AS at_ms, event_hash`,
        );
        const inserted = result.rows.map((row) => ({
          id: row.id,
          organizationId: row.organization_id,
          occurredAtMs: Number(row.at_ms),
          hash: row.event_hash,
        }));
        await appendSeals(client, sealItems(batchId, groupForSeals(inserted)));
        await client.query('COMMIT');
        if (keys.length > 0) this.onKeysStored(keys.map((key) => key.id));
        return result.rowCount ?? 0;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  /**
   * Events Postgres refused for their data, into `audit_dead_letters` (one row per event id: a replayed
   * batch dead-letters an event once), with the subject keys they carry: a replay can decrypt them, and an
   * erasure still destroys them.
   */
  async storeDeadLetters(poisoned: readonly PoisonedEvent[]): Promise<void> {
    const keys = new Map<string, SubjectKeyRecord>();
    for (const { event } of poisoned) for (const key of event.keys ?? []) keys.set(key.id, key);
    await this.withClient(async (client) => {
      await client.query('BEGIN');
      try {
        await SubjectKeyRepository.store(client, [...keys.values()]);
        await client.query(
          `INSERT INTO audit_dead_letters (event_id, occurred_at, sqlstate, error, line)
           SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[])
           ON CONFLICT (event_id) DO NOTHING`,
          [
            poisoned.map(({ event }) => event.id),
            poisoned.map(({ event }) => event.occurredAt.toISOString()),
            poisoned.map(({ code }) => code),
            poisoned.map(({ error }) => error),
            poisoned.map(({ event }) => event.line),
          ],
        );
        await client.query('COMMIT');
        if (keys.size > 0) this.onKeysStored([...keys.keys()]);
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  /** COPY `lines` into `table`; with `seals`, groups the lines' events for their seals on the way. */
  private async copyInto(
    client: PoolClient,
    table: string,
    lines: readonly string[],
    seals?: SealGrouper,
  ): Promise<void> {
    const stream = client.query(copyFrom(`COPY ${table} (${COLUMN_LIST}) FROM STDIN`));
    await pipeline(Readable.from(chunks(lines, seals)), stream);
  }

  private async withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // A connection that dies while checked out (Postgres restart) emits 'error' on the client: without a
    // listener that would crash the process. The failing query rejects too, and that is what we act on.
    const onError = (error: Error) => (broken = error);
    client.on('error', onError);
    try {
      return await work(client);
    } catch (error) {
      broken = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.off('error', onError);
      // A client whose COPY failed mid-stream may be in an unknown state: do not return it to the pool.
      client.release(broken);
    }
  }
}
