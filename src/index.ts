/**
 * nest-audit-trail: the package's public entry. Everything exported here is the public API; every other
 * file is private and may change.
 */
export * from './audit';
export { AUDIT_MIGRATIONS } from '../migrations';
export { AUDIT_MIGRATIONS_TABLE, runMigrations } from './common/database/migrate';
export type { RunMigrationsOptions } from './common/database/migrate';
export { SafeQueryLogger } from './common/database/safe-query.logger';
