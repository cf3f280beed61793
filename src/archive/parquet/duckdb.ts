import type { DuckDBConnection } from '@duckdb/node-api';
import { loadOptionalPackage } from '../../common/packages/optional-package';

const DUCKDB_REASON =
  "Parquet archives (ARCHIVE_FORMAT=parquet / archive: { format: 'parquet' }) and `query-archive`";

/** Loads DuckDB now: a missing package fails at start-up, naming it, rather than at the first export. */
export function requireDuckDb(): void {
  loadDuckDb();
}

function loadDuckDb(): typeof import('@duckdb/node-api') {
  return loadOptionalPackage<typeof import('@duckdb/node-api')>('@duckdb/node-api', DUCKDB_REASON);
}

/** Null when DuckDB loads here, else why not (checked with the configuration, at start-up). */
export function duckDbUnavailable(): string | null {
  try {
    loadDuckDb();
    return null;
  } catch (error) {
    return (error as Error).message.split('\n')[0];
  }
}

export interface DuckDbSession {
  connection: DuckDBConnection;
  close(): void;
}

/**
 * An in-memory DuckDB for one export, read or query: bounded memory (it spills to `tempDir`), two threads
 * (it shares the host with Postgres), UTC for every timestamp it parses or prints, and no extension loaded
 * from the network (parquet, json and icu are built in).
 */
export async function openDuckDb(tempDir: string): Promise<DuckDbSession> {
  const { DuckDBInstance } = loadDuckDb();
  const instance = await DuckDBInstance.create(':memory:', {
    threads: '2',
    memory_limit: '512MB',
    temp_directory: tempDir,
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const connection = await instance.connect();
  await connection.run(`SET TimeZone = 'UTC'`);
  return {
    connection,
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** A DuckDB string literal (single quotes doubled): for file paths DuckDB needs as constants (COPY TO). */
export const duckString = (value: string) => `'${value.replaceAll("'", "''")}'`;

/** A DuckDB identifier, double-quoted. */
export const duckIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;
