import 'reflect-metadata';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SingleBar, Presets } from 'cli-progress';
import { Command } from 'commander';
import { ArchiveService } from '../archive.service';
import { CliModule } from './cli.module';
import { RestoreService } from '../restore.service';
import { ConfigError, loadConfig } from '../../common/config/environment';
import { EmbeddedDatabase, startEmbeddedPostgres } from '../../../demo/embedded-postgres';
import { runMigrations } from '../../common/database/migrate';
import { PartitionListService } from '../../partitions/partition-list.service';
import { PartitionService } from '../../partitions/partition.service';

/** Exit code when another instance holds the job's lock: nothing was done, try again later. */
const EXIT_BUSY = 3;

/**
 * `npm run audit -- <command>`: the lifecycle by hand, on the database of DATABASE_URL (or the embedded
 * one under DATA_DIR when the service is not running), with the service's configuration.
 */
async function withContext<T>(work: (context: INestApplicationContext) => Promise<T>): Promise<T> {
  const config = loadConfig();
  let embedded: EmbeddedDatabase | undefined;
  if (!config.databaseUrl) embedded = await startEmbeddedPostgres(config.dataDir, config.embeddedPgPort);
  const url = config.databaseUrl ?? embedded!.url;
  try {
    await runMigrations(url);
    const context = await NestFactory.createApplicationContext(CliModule.forRoot(config, url), {
      logger: ['error', 'warn'],
    });
    try {
      return await work(context);
    } finally {
      await context.close();
    }
  } finally {
    await embedded?.stop();
  }
}

const print = (value: unknown) => console.log(JSON.stringify(value, null, 2));

function busy(job: string): never {
  console.error(`Another instance is running ${job}; nothing done.`);
  process.exit(EXIT_BUSY);
}

const program = new Command()
  .name('audit')
  .description('Partition lifecycle and archives of the audit trail');

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

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message);
  else console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
