import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { Pool } from 'pg';
import { loadConfig } from '../config';
import { parsePublicKey } from '../common/crypto/ed25519-keys';
import { archiveIntegritySection, CheckpointSigner, keyIdOf, verifyArchive, VerifyReport } from '../integrity';
import { verifyCommand } from './verify-command';
import { KeyObject } from 'node:crypto';

/**
 * npm run integrity -- verify [--from ISO] [--to ISO] [--org ID] [--no-heads]  (DATABASE_URL, ARCHIVE_URL)
 * npm run integrity -- verify-archive <data.ndjson.gz|.zst|.br> <manifest.json> --public-key <file>
 *   (a Parquet archive: <data> is a copy of its parquet/ folder)
 * npm run integrity -- archive-section --from ISO --to ISO               (DATABASE_URL; prints JSON)
 * npm run integrity -- public-key                                         (from AUDIT_SIGNING_KEY)
 * Exit status: 0 verified, 1 broken (the report says where), 2 usage or configuration error.
 */
const program = new Command('integrity').description('Tamper evidence of the audit trail');

function keysFrom(files: string[]): Map<string, KeyObject> {
  return new Map(
    files.map((file) => {
      const key = parsePublicKey(readFileSync(file, 'utf8'));
      return [keyIdOf(key), key];
    }),
  );
}

function report(result: VerifyReport): void {
  console.log(JSON.stringify(result, null, 2));
  process.exitCode = result.ok ? 0 : 1;
}

function databasePool(): Pool {
  const url = loadConfig().databaseUrl;
  if (!url) throw new Error('DATABASE_URL is required');
  return new Pool({ connectionString: url, max: 2, application_name: 'nest-audit-trail:integrity-cli' });
}

const collect = (value: string, previous: string[]) => [...previous, value];

program
  .command('verify')
  .description(
    'Verify the chains in the database (every organization unless --org), and that none ends before its head published in the archive store',
  )
  .option('--from <iso>', 'start of the event-time range (inclusive)')
  .option('--to <iso>', 'end of the event-time range (exclusive)')
  .option('--org <id>', 'one organization ("" for events without one)')
  .option(
    '--public-key <file>',
    'public key (PEM or base64); repeatable; default: from the configuration',
    collect,
    [],
  )
  .option('--no-heads', 'do not compare with the chain heads published in the archive store (ARCHIVE_URL)')
  .action(
    async (options: { from?: string; to?: string; org?: string; publicKey: string[]; heads: boolean }) => {
      const publicKeys = options.publicKey.length ? keysFrom(options.publicKey) : undefined;
      report(await verifyCommand(loadConfig(), { ...options, publicKeys }));
    },
  );

program
  .command('verify-archive <data> <manifest>')
  .description(
    'Verify a cold archive offline: its data file (data.ndjson.gz, .zst or .br; for a Parquet archive its parquet/ folder), its manifest.json and the public key',
  )
  .requiredOption('--public-key <file>', 'public key (PEM or base64 raw 32 bytes); repeatable', collect, [])
  .action(async (file: string, manifestPath: string, options: { publicKey: string[] }) => {
    report(await verifyArchive(file, readFileSync(manifestPath, 'utf8'), keysFrom(options.publicKey)));
  });

program
  .command('archive-section')
  .description('Print the integrity section of an archive manifest for [from, to)')
  .requiredOption('--from <iso>')
  .requiredOption('--to <iso>')
  .action(async (options: { from: string; to: string }) => {
    const pool = databasePool();
    try {
      console.log(
        JSON.stringify(
          await archiveIntegritySection(pool, new Date(options.from), new Date(options.to)),
          null,
          2,
        ),
      );
    } finally {
      await pool.end();
    }
  });

program
  .command('public-key')
  .description('Print the public verification material of the configured signing key')
  .action(() => {
    const config = loadConfig();
    console.log(
      JSON.stringify(
        new CheckpointSigner(config.integrity.signingKey, config.integrity.verifyKeys).describe(),
        null,
        2,
      ),
    );
  });

program.parseAsync(process.argv).catch((error: Error) => {
  console.error(error.message);
  process.exitCode = 2;
});
