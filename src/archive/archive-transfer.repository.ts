import { Inject, Injectable } from '@nestjs/common';
import { escapeIdentifier, escapeLiteral, Pool, PoolClient } from 'pg';
import { CopyStreamQuery, CopyToStreamQuery, from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { ManifestColumn } from './archive-manifest';
import { ARCHIVE_POOL } from './archive.repository';

/**
 * One JSON document per line, verbatim: CSV format with a delimiter and quote that JSON text never holds
 * raw (Postgres escapes control characters in JSON strings). Text format would double every backslash.
 */
const VERBATIM_LINES = `(FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')`;

/**
 * Archived rows are grouped by resource, then time: consecutive lines then share most of their text (a
 * resource's states, its type, its id), which gzip's 32 KiB window can only exploit when they are close.
 * 4.2x -> 6.0x smaller than heap + TOAST on bench/archive's data, for a sort of the narrow heap tuples.
 */
export const ARCHIVE_ROW_ORDER = ['resource_type', 'resource_id', 'occurred_at', 'id'] as const;

/** A consecutive run of the rows in ARCHIVE_ROW_ORDER; `limit` null: to the end. */
export interface ExportSlice {
  offset: number;
  limit: number | null;
}

/**
 * Rows come in the order of the partition's resource index (ARCHIVE_ROW_ORDER): the first row leaves at
 * once and Postgres reads while the compressor works. Left to itself the planner sorts a sequential scan,
 * and nothing reaches the compressor until the whole month is sorted: 53-56k rows/s end to end against
 * 90-95k with the index (bench/archive). Without the index the sort still happens, with enough memory to
 * stay off disk. Local to the export's transaction.
 */
const EXPORT_SETTINGS =
  `SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off; ` +
  `SET LOCAL work_mem = '64MB'`;

/** COPY of a partition's rows out to an archive, and of an archive's lines back into a table (restore). */
@Injectable()
export class ArchiveTransferRepository {
  constructor(@Inject(ARCHIVE_POOL) private readonly pool: Pool) {}

  async connect(): Promise<PoolClient> {
    return this.pool.connect();
  }

  /**
   * Opens the export's read-only transactions, one per client, all in the first one's snapshot (exported
   * and imported, as pg_dump --jobs does), and says which consecutive slice of the rows each reads. Slices are
   * cut from the table's row estimate: the last one has no limit, so a stale estimate only unbalances them.
   */
  async beginExport(clients: PoolClient[], table: string): Promise<ExportSlice[]> {
    const [lead, ...others] = clients;
    await lead.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await lead.query(EXPORT_SETTINGS);
    if (others.length === 0) return [{ offset: 0, limit: null }];
    const { rows } = await lead.query(
      `SELECT pg_export_snapshot() AS snapshot,
              greatest(reltuples, 0)::bigint AS estimate FROM pg_class WHERE oid = to_regclass(quote_ident($1))`,
      [table],
    );
    for (const client of others) {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query(`SET TRANSACTION SNAPSHOT ${escapeLiteral(rows[0].snapshot)}`);
      await client.query(EXPORT_SETTINGS);
    }
    const size = Math.ceil(Number(rows[0].estimate) / clients.length);
    return clients.map((_client, i) => ({
      offset: i * size,
      limit: i === clients.length - 1 ? null : size,
    }));
  }

  /** Ends one export transaction (read only: nothing to write), once its slice has been read. */
  async endExport(client: PoolClient): Promise<void> {
    await client.query('COMMIT');
  }

  /**
   * The rows of `slice` as one JSON array per line, values in `columns` order (read from the catalog, so
   * whatever columns the table has), grouped by resource then time (ARCHIVE_ROW_ORDER). Skipped rows are
   * not serialized (the array is built above the OFFSET). json_build_array takes at most 100 arguments:
   * wider rows are concatenated from 100-column pieces.
   */
  copyOut(
    client: PoolClient,
    table: string,
    columns: ManifestColumn[],
    slice: ExportSlice,
  ): CopyToStreamQuery {
    const names = columns.map((c) => `t.${escapeIdentifier(c.name)}`);
    const pieces: string[] = [];
    for (let i = 0; i < names.length; i += 100) pieces.push(names.slice(i, i + 100).join(', '));
    const row =
      pieces.length === 1
        ? `json_build_array(${pieces[0]})`
        : pieces.map((piece) => `jsonb_build_array(${piece})`).join(' || ');
    const order = ARCHIVE_ROW_ORDER.map((c) => escapeIdentifier(c)).join(', ');
    const window = `OFFSET ${slice.offset}` + (slice.limit === null ? '' : ` LIMIT ${slice.limit}`);
    const rows =
      slice.offset === 0 && slice.limit === null
        ? `${escapeIdentifier(table)} t`
        : `(SELECT * FROM ${escapeIdentifier(table)} ORDER BY ${order} ${window}) t`;
    return client.query(
      copyTo(`COPY (SELECT ${row} FROM ${rows} ORDER BY ${order}) TO STDOUT WITH ${VERBATIM_LINES}`),
    );
  }

  /**
   * The rows of `slice` as Postgres' own CSV (text forms of the values, NULL unquoted and empty, "" an empty
   * string), in ARCHIVE_ROW_ORDER: what DuckDB reads to write a Parquet archive. Timestamps in UTC, ISO
   * dates and hex bytea whatever the server's defaults. Call inside the export's transaction.
   */
  async copyOutCsv(
    client: PoolClient,
    table: string,
    columns: ManifestColumn[],
    slice: ExportSlice,
  ): Promise<CopyToStreamQuery> {
    await client.query(
      `SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL bytea_output = 'hex'`,
    );
    const names = columns.map((c) => `t.${escapeIdentifier(c.name)}`).join(', ');
    const order = ARCHIVE_ROW_ORDER.map((c) => escapeIdentifier(c)).join(', ');
    const window = `OFFSET ${slice.offset}` + (slice.limit === null ? '' : ` LIMIT ${slice.limit}`);
    const rows =
      slice.offset === 0 && slice.limit === null
        ? `${escapeIdentifier(table)} t`
        : `(SELECT * FROM ${escapeIdentifier(table)} ORDER BY ${order} ${window}) t`;
    return client.query(
      copyTo(`COPY (SELECT ${names} FROM ${rows} ORDER BY ${order}) TO STDOUT WITH (FORMAT csv)`),
    );
  }

  /**
   * Creates `table` with the archived columns (from the manifest, not today's schema), plus a staging
   * table the lines are COPYed into. Call inside a transaction on `client`.
   */
  async prepareRestore(
    client: PoolClient,
    table: string,
    columns: ManifestColumn[],
  ): Promise<CopyStreamQuery> {
    const { rows } = await client.query(
      `SELECT format('CREATE TABLE %I (%s)', $1::text,
                     (SELECT string_agg(format('%I %s', c->>'name', c->>'type'), ', ') FROM jsonb_array_elements($2::jsonb) c)) AS ddl`,
      [table, JSON.stringify(columns)],
    );
    await client.query(rows[0].ddl);
    await client.query(`CREATE TEMP TABLE restore_lines (doc jsonb) ON COMMIT DROP`);
    return client.query(copyFrom(`COPY restore_lines (doc) FROM STDIN WITH ${VERBATIM_LINES}`));
  }

  /**
   * Turns the staged arrays into rows of `table`: each value is named after its column and converted by
   * jsonb_populate_record (Postgres' own JSON-to-type rules: timestamps, jsonb, arrays, bytea...).
   */
  async finishRestore(client: PoolClient, table: string, columns: ManifestColumn[]): Promise<number> {
    const { rows } = await client.query(
      `SELECT format('INSERT INTO %1$I SELECT r.* FROM restore_lines s CROSS JOIN LATERAL jsonb_populate_record(NULL::%1$I,
                       (SELECT jsonb_object_agg(c.name, s.doc -> (c.position::int - 1)) FROM unnest($1::text[]) WITH ORDINALITY AS c(name, position))) r', $1::text) AS insert,
              format('CREATE INDEX %I ON %I (occurred_at, id)', $1::text || '_time_idx', $1::text) AS idx`,
      [table],
    );
    const inserted = await client.query(rows[0].insert, [columns.map((c) => c.name)]);
    await client.query(rows[0].idx);
    return inserted.rowCount ?? 0;
  }
}
