import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppModule, AppRole } from './app.module';
import { jsonBodyParserOptions, runMigrations, ServiceConfig as AppConfig } from 'nest-audit-trail';
import { EmbeddedDatabase, startEmbeddedPostgres } from './embedded-postgres';
import { ALL_MIGRATIONS } from './data-source-options';

/**
 * Builds the whole service: the database (DATABASE_URL, or an embedded Postgres under DATA_DIR), the
 * migrations (under an advisory lock), then the Nest app with shutdown hooks. Used by main.ts and the tests.
 */
export async function createApp(config: AppConfig, role: AppRole = 'api'): Promise<INestApplication> {
  const logger = new Logger('Bootstrap');
  let embedded: EmbeddedDatabase | undefined;
  if (!config.databaseUrl) {
    logger.warn('DATABASE_URL is not set: starting an embedded Postgres for local use');
    embedded = await startEmbeddedPostgres(config.dataDir, config.embeddedPgPort);
  }
  const databaseUrl = config.databaseUrl ?? embedded!.url;
  try {
    await runMigrations(databaseUrl, { migrations: ALL_MIGRATIONS });
    if (config.jwtSecretIsDevDefault) {
      logger.warn(
        'AUTH_JWT_SECRET is not set: using the built-in DEVELOPMENT secret. Never run like this in production.',
      );
    }
    // The development signing and personal-data keys are warned about by AuditModule itself.
    const app = await NestFactory.create<NestExpressApplication>(
      AppModule.forRoot(config, databaseUrl, embedded?.stop, role),
      { logger: levelsFrom(config.logLevel) },
    );
    app.disable('x-powered-by');
    // Bodies over 100 kB are a 413, nested deeper than 64 levels a 400, before anything parses or walks them.
    app.useBodyParser('json', jsonBodyParserOptions({ limit: '100kb', maxDepth: 64 }));
    app.enableShutdownHooks();
    if (role === 'api') setupOpenApi(app);
    return app;
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

function levelsFrom(level: AppConfig['logLevel']) {
  const all = ['error', 'warn', 'log', 'debug', 'verbose'] as const;
  return all.slice(0, all.indexOf(level) + 1) as unknown as (
    'error' | 'warn' | 'log' | 'debug' | 'verbose'
  )[];
}

/** OpenAPI at /docs (UI) and /docs-json. */
function setupOpenApi(app: INestApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Audit trail')
      .setDescription('Admin API of the audit trail: search, history, activity, stats, export.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
