import { EntityMetadata } from 'typeorm';

const TENANT_PROPERTIES = ['organizationId', 'tenantId', 'orgId'];

/** The entity's tenant column (`organizationId`, `tenantId` or `orgId`), if it has one. */
export function tenantColumn(metadata: EntityMetadata): EntityMetadata['columns'][number] | undefined {
  return metadata.columns.find((c) => TENANT_PROPERTIES.includes(c.propertyName));
}

export interface EntityStateQuery {
  /** `$1` is the primary key; `$2` the organization when `tenantScoped`. */
  sql: string;
  tenantScoped: boolean;
  uuidKey: boolean;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * The SELECT that loads one entity's current state by primary key, columns aliased to property names.
 * When the entity has a tenant column, the lookup is scoped to the actor's organization so another
 * tenant's row never lands in this tenant's trail. Null for composite keys.
 */
export function entityStateQuery(
  metadata: EntityMetadata,
  options: { forUpdate?: boolean; scoped?: boolean } = {},
): EntityStateQuery | null {
  if (metadata.primaryColumns.length !== 1) return null;
  const key = metadata.primaryColumns[0];
  const tenant = options.scoped === false ? undefined : tenantColumn(metadata);
  const table = metadata.tablePath.split('.').map(quote).join('.');
  const columns = metadata.columns
    .map((c) => `${quote(c.databaseName)} AS ${quote(c.propertyName)}`)
    .join(', ');
  const sql =
    `SELECT ${columns} FROM ${table} WHERE ${quote(key.databaseName)} = $1` +
    (tenant ? ` AND ${quote(tenant.databaseName)} = $2` : '') +
    (options.forUpdate ? ' FOR UPDATE' : ' LIMIT 1');
  return { sql, tenantScoped: Boolean(tenant), uuidKey: key.type === 'uuid' };
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
