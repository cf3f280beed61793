import { ClientConfig, Pool } from 'pg';
import { DataSource } from 'typeorm';

/**
 * A separate pg Pool on the app's TypeORM connection settings, for work that must not compete with the
 * app's own connections (COPY batches, long exports).
 */
export function poolFromDataSource(dataSource: DataSource, max: number, applicationName: string): Pool {
  const pool = new Pool({
    ...clientConfigFromDataSource(dataSource),
    max,
    application_name: applicationName,
  });
  // An idle client that dies (Postgres restart) must not crash the process; the next user reconnects.
  pool.on('error', () => undefined);
  // Nor one that dies while checked out (pg-pool listens only to idle ones): it emits 'error' on the client
  // as well as failing the query in flight, and the failed query is what its user acts on.
  pool.on('acquire', (client) => client.on('error', ignore));
  pool.on('release', (_error, client) => client.off('error', ignore));
  return pool;
}

/** The app's TypeORM connection settings as a pg client's (a replication connection, a pool of our own). */
export function clientConfigFromDataSource(dataSource: DataSource): ClientConfig {
  const o = dataSource.options as {
    url?: string;
    host?: string;
    port?: number;
    username?: string;
    password?: string;
    database?: string;
    ssl?: unknown;
    extra?: { options?: string };
  };
  return {
    connectionString: o.url,
    host: o.host,
    port: o.port,
    user: o.username,
    password: o.password,
    database: o.database,
    ssl: o.ssl as never,
    // The app's connection options (a search_path that puts the audit schema first, a statement timeout...).
    options: o.extra?.options,
  };
}

const ignore = () => undefined;

/**
 * A pg Pool on a replica: the replica's own URL (host, credentials, database), with the app's connection
 * options (the search_path that finds the audit schema, a statement timeout...) and SSL settings.
 */
export function replicaPoolFor(
  dataSource: DataSource,
  url: string,
  options: { max: number; connectTimeoutMs: number; applicationName: string },
): Pool {
  const o = dataSource.options as { ssl?: unknown; extra?: { options?: string } };
  const pool = new Pool({
    connectionString: url,
    ssl: o.ssl as never,
    options: o.extra?.options,
    max: options.max,
    connectionTimeoutMillis: options.connectTimeoutMs,
    application_name: options.applicationName,
  });
  pool.on('error', () => undefined);
  pool.on('acquire', (client) => client.on('error', ignore));
  pool.on('release', (_error, client) => client.off('error', ignore));
  return pool;
}
