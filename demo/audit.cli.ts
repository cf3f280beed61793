import { spawn } from 'node:child_process';
import { loadServiceConfig } from 'nest-audit-trail';
import { EmbeddedDatabase, startEmbeddedPostgres } from './embedded-postgres';

/**
 * `npm run audit -- <command>`: the package's bin (`nest-audit-trail`) on the demo's database: DATABASE_URL,
 * or the embedded Postgres under DATA_DIR when it is unset (and the service is not running).
 */
async function main(): Promise<number> {
  const config = loadServiceConfig();
  let embedded: EmbeddedDatabase | undefined;
  if (!config.databaseUrl) embedded = await startEmbeddedPostgres(config.dataDir, config.embeddedPgPort);
  try {
    const bin = require.resolve('nest-audit-trail/package.json').replace(/package\.json$/, 'dist/src/cli/nest-audit-trail.js');
    const child = spawn(process.execPath, [bin, ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, DATABASE_URL: config.databaseUrl ?? embedded!.url },
    });
    return await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  } finally {
    await embedded?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
