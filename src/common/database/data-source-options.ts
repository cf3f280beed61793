import { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from 'migrations';
import { Account } from 'src/accounts/account.entity';

/** One place that says how the app talks to Postgres: used by Nest, the migration runner and the TypeORM CLI. */
export function dataSourceOptions(
  url: string,
  { poolMax = 20, ...overrides }: Partial<DataSourceOptions> & { poolMax?: number } = {},
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
    extra: { max: poolMax, application_name: 'nest-audit-trail' },
    ...overrides,
  } as DataSourceOptions;
}
