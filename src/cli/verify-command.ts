import { KeyObject } from 'node:crypto';
import { Pool } from 'pg';
import { AppConfig } from '../config';
import { ChainHeadStore, CheckpointSigner, DatabaseVerifier, IntegrityRepository, VerifyReport } from '../integrity';

export interface VerifyCommandOptions {
  from?: string;
  to?: string;
  /** One organization ('' for events without one); undefined: every chain. */
  org?: string;
  /** Public keys to verify against; default those of the configuration. */
  publicKeys?: Map<string, KeyObject>;
  /** False: do not compare with the heads published in the archive store. */
  heads?: boolean;
}

/**
 * `npm run integrity -- verify`: the chains in DATABASE_URL, against their heads published in the archive
 * store (ARCHIVE_URL) unless told not to.
 */
export async function verifyCommand(config: AppConfig, options: VerifyCommandOptions): Promise<VerifyReport> {
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required');
  const keys =
    options.publicKeys ??
    new CheckpointSigner(config.integrity.signingKey, config.integrity.verifyKeys).publicKeys;
  const pool = new Pool({
    connectionString: config.databaseUrl,
    max: 2,
    application_name: 'nest-audit-trail:integrity-cli',
  });
  const store = options.heads === false ? null : new ChainHeadStore(config);
  try {
    const verifier = new DatabaseVerifier(new IntegrityRepository(pool), keys);
    const range = {
      from: options.from ? new Date(options.from) : undefined,
      to: options.to ? new Date(options.to) : undefined,
    };
    let heads;
    if (store) {
      const { rows } = await pool.query<{ name: string }>('SELECT current_database() AS name');
      heads = store.source(rows[0].name);
    }
    return await verifier.verify(range, options.org === undefined ? undefined : [options.org], heads);
  } finally {
    store?.onApplicationShutdown();
    await pool.end();
  }
}
