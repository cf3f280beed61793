#!/usr/bin/env node
import 'reflect-metadata';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SingleBar, Presets } from 'cli-progress';
import { Command } from 'commander';
import { ArchiveService } from '../archive';
import { RestoreService } from '../archive';
import { ArchiveQueryService } from '../archive';
import { formatRows, parseQueryArchive, QueryArchiveOptions, QueryArgumentsError } from './query-archive';
import { createAuditRole } from '../common/database/audit-role';
import { ConfigError, loadConfig } from '../config';
import { AUDIT_MIGRATIONS_TABLE, runMigrations } from '../common/database/migrate';
import { PartitionListService } from '../partitions';
import { PartitionService } from '../partitions';
import { CliModule } from './cli.module';
import { Pool } from 'pg';
import { destinationsStatus, requestReplay, StreamingCliError } from '../streaming';
import { WAL_LEVEL_HELP, WalSetupRepository } from '../audit';

/** Exit code when another instance holds the job's lock: nothing was done, try again later. */
const EXIT_BUSY = 3;

/**
 * `npx nest-audit-trail <command>`: the audit schema and the lifecycle by hand, on the database of
 * DATABASE_URL, with the configuration of the environment variables (README, Configuration).
 */
function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new ConfigError(['DATABASE_URL must be set (postgres://user:password@host:5432/database)']);
  return url;
}

async function withContext<T>(work: (context: INestApplicationContext) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const url = databaseUrl();
  const schema = process.env.AUDIT_SCHEMA || undefined;
  const context = await NestFactory.createApplicationContext(CliModule.forRoot(config, url, schema), {
    logger: ['error', 'warn'],
  });
  try {
    return await work(context);
  } finally {
    await context.close();
  }
}

const print = (value: unknown) => console.log(JSON.stringify(value, null, 2));

function busy(job: string): never {
  console.error(`Another instance is running ${job}; nothing done.`);
  process.exit(EXIT_BUSY);
}

const program = new Command()
  .name('nest-audit-trail')
  .description("The audit trail's schema, partitions and archives");

program
  .command('migrate')
  .description("Create or upgrade the audit schema (the package's migrations only, under an advisory lock)")
  .option('--table <name>', 'table recording applied migrations', AUDIT_MIGRATIONS_TABLE)
  .option(
    '--schema <name>',
    "Postgres schema for the audit tables, apart from the app's (default: AUDIT_SCHEMA or the search_path)",
  )
  .action(async (options: { table: string; schema?: string }) => {
    const applied = await runMigrations(databaseUrl(), {
      tableName: options.table,
      schema: options.schema ?? (process.env.AUDIT_SCHEMA || undefined),
      logger: { log: () => undefined },
    });
    console.log(applied.length > 0 ? `Applied ${applied.join(', ')}` : 'The audit schema is up to date');
  });

program
  .command('create-role')
  .description(
    'Optional: a NOLOGIN role with only what the application needs (INSERT/SELECT on events, no UPDATE, DELETE or TRUNCATE); needs CREATEROLE',
  )
  .option('--role <name>', "role name (roles are cluster-wide: one per database's application)", 'audit_app')
  .option('--schema <name>', 'schema of the audit tables', process.env.AUDIT_SCHEMA || 'public')
  .option('--grant-to <role...>', 'login role(s) of the service to make members of it')
  .action(async (options: { role: string; schema: string; grantTo?: string[] }) => {
    const role = await createAuditRole(databaseUrl(), options);
    console.log(
      `Role ${role} has the audit application's privileges${options.grantTo ? `, granted to ${options.grantTo.join(', ')}` : ''}`,
    );
  });

program
  .command('partitions')
  .description('List hot and warm partitions and DEFAULT: range, tier, rows, bytes')
  .option('--exact', 'count rows exactly (slower)')
  .option('--json', 'print JSON instead of a table')
  .action(async (options: { exact?: boolean; json?: boolean }) =>
    withContext(async (context) => {
      const partitions = await context.get(PartitionListService).list(options.exact ?? false);
      if (options.json) return print(partitions);
      console.table(
        partitions.map(({ name, tier, from, to, rows, bytes }) => ({ name, tier, from, to, rows, bytes })),
      );
    }),
  );

program
  .command('maintenance')
  .description('Create partitions ahead and move stray rows out of DEFAULT')
  .option('--dry-run', 'print what would be done, change nothing')
  .action(async (options: { dryRun?: boolean }) =>
    withContext(async (context) => {
      const report = await context.get(PartitionService).maintain(options.dryRun ?? false);
      if (!report) busy('partition maintenance');
      print(report);
    }),
  );

program
  .command('archive')
  .description('Run the archive job: hot -> warm -> cold -> expired')
  .option('--dry-run', 'print what would be done, change nothing')
  .action(async (options: { dryRun?: boolean }) =>
    withContext(async (context) => {
      const bar = new SingleBar({ format: ' {bar} {value}/{total} {step}' }, Presets.shades_classic);
      let started = false;
      const report = await context.get(ArchiveService).run(options.dryRun ?? false, (done, total, step) => {
        if (!started) bar.start(total, 0, { step });
        started = true;
        bar.update(done, { step });
      });
      if (started) bar.stop();
      if (!report) busy('the archive job');
      print(report);
    }),
  );

program
  .command('archives')
  .description('List cold archives (and those being made)')
  .action(async () => withContext(async (context) => print(await context.get(ArchiveService).list())));

program
  .command('restore <id>')
  .description('Verify a cold archive and load it into a table of its own')
  .option('--dry-run', 'verify the archive only (checksum, size, rows), load nothing')
  .action(async (id: string, options: { dryRun?: boolean }) =>
    withContext(async (context) => {
      const bar = new SingleBar({ format: ' {bar} {value}/{total} rows' }, Presets.shades_classic);
      let started = false;
      const progress = (rows: number, total: number) => {
        if (!started) bar.start(total, 0);
        started = true;
        bar.update(rows);
      };
      const result = await context.get(RestoreService).restore(id, progress, options.dryRun ?? false);
      if (started) bar.stop();
      print(result);
    }),
  );

program
  .command('query-archive')
  .description(
    'Query cold Parquet archives (ARCHIVE_FORMAT=parquet) straight from their files with DuckDB: one organization, a time range, optional filters',
  )
  .option('--org <id>', 'organization (required; "" for events without one)')
  .option('--from <iso>', 'start of the event-time range, inclusive (required)')
  .option('--to <iso>', 'end of the event-time range, exclusive (required)')
  .option('--action <action>', 'only this action')
  .option('--actor <id>', 'only this actor id')
  .option('--resource-type <type>', 'only this resource type')
  .option('--resource-id <id>', 'only this resource id')
  .option('--format <format>', 'ndjson, csv or table', 'table')
  .option('--limit <n>', 'at most this many events, oldest first', '1000')
  .action(async (options: QueryArchiveOptions) => {
    // Arguments first: a bad one is reported without touching the database.
    const { query, format } = parseQueryArchive(options);
    await withContext(async (context) => {
      const result = await context.get(ArchiveQueryService).query(query);
      process.stdout.write(formatRows(result, format));
      if (format === 'table')
        console.error(`${result.files} Parquet file(s) of ${result.archives} archive(s) read`);
    });
  });

/** A small pool on DATABASE_URL for the commands that only read or mark rows. */
async function withPool<T>(work: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = new Pool({
    connectionString: databaseUrl(),
    max: 2,
    application_name: 'nest-audit-trail:cli',
  });
  try {
    return await work(pool);
  } finally {
    await pool.end();
  }
}

program
  .command('destinations')
  .description(
    'Streaming destinations with their status: state, lag, backlog, delivered, dead letters, last error',
  )
  .action(async () => withPool(async (pool) => print(await destinationsStatus(pool))));

program
  .command('replay <destination>')
  .description(
    "Send a destination's dead letters again (all, or --ids); the streamer does it on its next run",
  )
  .option('--org <id>', 'the organization, when several use the destination name')
  .option('--ids <ids>', 'comma-separated dead-letter ids (default: all)')
  .action(async (destination: string, options: { org?: string; ids?: string }) =>
    withPool(async (pool) =>
      print(
        await requestReplay(pool, destination, {
          organizationId: options.org,
          ids: options.ids?.split(',').map((id) => id.trim()),
        }),
      ),
    ),
  );

program
  .command('wal-setup')
  .description(
    "The wal capture mode's database side, once, as a role that owns the tables and may replicate: the publication, REPLICA IDENTITY FULL, the session trigger and the slot (the app then runs AuditWalModule with setup: false)",
  )
  .requiredOption('--table <name...>', 'captured table(s): name or schema.name (default schema public)')
  .option('--publication <name>', 'publication', 'nest_audit_wal')
  .option('--slot <name>', 'logical replication slot', 'nest_audit_wal')
  .action(async (options: { table: string[]; publication: string; slot: string }) =>
    withPool(async (pool) => {
      const setup = new WalSetupRepository(pool);
      const level = await setup.walLevel();
      if (level !== 'logical')
        throw new ConfigError([`${WAL_LEVEL_HELP}; this server has wal_level=${level}`]);
      const tables = options.table.map((name) => {
        const [schema, table] = name.includes('.') ? name.split('.', 2) : ['public', name];
        return { schema, table };
      });
      await setup.ensure(options.publication, options.slot, tables);
      print({
        publication: options.publication,
        slot: options.slot,
        tables: options.table,
        slotState: await setup.slotState(options.slot),
      });
    }),
  );

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof QueryArgumentsError || error instanceof StreamingCliError) {
    console.error(error.message);
    process.exit(2);
  }
  if (error instanceof ConfigError) console.error(error.message);
  else console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
