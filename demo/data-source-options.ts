import { DataSourceOptions } from 'typeorm';
import { AUDIT_MIGRATIONS, AUDIT_MIGRATIONS_TABLE, SafeQueryLogger } from 'nest-audit-trail';
import { Account } from './accounts/account.entity';
import { DEMO_MIGRATIONS } from './migrations';

/** The demo's migrations after the audit schema's (TypeORM orders them by timestamp). */
export const ALL_MIGRATIONS = [...AUDIT_MIGRATIONS, ...DEMO_MIGRATIONS];

/** One place that says how the demo talks to Postgres: used by Nest, the migration runner and the TypeORM CLI. */
export function dataSourceOptions(
  url: string,
  { poolMax = 20, ...overrides }: Partial<DataSourceOptions> & { poolMax?: number } = {},
): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: [Account],
    migrations: ALL_MIGRATIONS,
    migrationsTableName: AUDIT_MIGRATIONS_TABLE,
    migrationsTransactionMode: 'each',
    synchronize: false,
    // Failed queries by SQLSTATE and table only: TypeORM's own logger prints their parameters.
    logging: ['error'],
    logger: new SafeQueryLogger(),
    extra: { max: poolMax, application_name: 'nest-audit-trail' },
    ...overrides,
  } as DataSourceOptions;
}
