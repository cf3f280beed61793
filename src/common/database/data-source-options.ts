import { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from 'migrations';
import { Account } from 'src/accounts/account.entity';

/** One place that says how the app talks to Postgres: used by Nest, the migration runner and the TypeORM CLI. */
export function dataSourceOptions(
  url: string,
  overrides: Partial<DataSourceOptions> = {},
): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: [Account],
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: ['error'],
    extra: { max: 20, application_name: 'nest-audit-trail' },
    ...overrides,
  } as DataSourceOptions;
}
