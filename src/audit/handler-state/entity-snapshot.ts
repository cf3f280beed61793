import { EntityMetadata, ObjectLiteral } from 'typeorm';
import { tenantColumn } from '../entity-state.sql';

/** How to read one entity's state, resolved once per entity class. */
export class EntitySnapshotter {
  private readonly tenant: EntityMetadata['columns'][number] | undefined;

  constructor(private readonly metadata: EntityMetadata) {
    this.tenant = tenantColumn(metadata);
  }

  /** The primary key as the route carries it (a string), or null for a composite or missing key. */
  idOf(entity: ObjectLiteral): string | null {
    if (this.metadata.primaryColumns.length !== 1) return null;
    const value = this.metadata.primaryColumns[0].getEntityValue(entity);
    return value === undefined || value === null ? null : String(value);
  }

  /**
   * Whether the row belongs to the organization, as the primary-key load scopes it (an entity without a tenant
   * column belongs to every organization).
   */
  belongsTo(entity: ObjectLiteral, organizationId: string | null): boolean {
    if (!this.tenant) return true;
    const value = this.tenant.getEntityValue(entity);
    return (
      organizationId !== null && value !== undefined && value !== null && String(value) === organizationId
    );
  }

  /**
   * The row's columns keyed by property name, the shape the primary-key load returns, copied so the handler's
   * later changes to the entity do not reach it. Undefined when a column was not loaded (a partial `select`):
   * such an entity is not the whole row. A relation's foreign key whose relation was not loaded is left out.
   */
  snapshot(entity: ObjectLiteral): Record<string, unknown> | undefined {
    const state: Record<string, unknown> = {};
    for (const column of this.metadata.columns) {
      const value = column.getEntityValue(entity);
      if (value === undefined) {
        if (column.relationMetadata) continue;
        return undefined;
      }
      state[column.propertyName] = copy(value);
    }
    return state;
  }
}

/** Dates and plain JSON values (json columns) are copied; other objects (a Decimal...) are kept as they are. */
function copy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return new Date(value.getTime());
  const prototype = Object.getPrototypeOf(value);
  return Array.isArray(value) || prototype === Object.prototype || prototype === null
    ? structuredClone(value)
    : value;
}
