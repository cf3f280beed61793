import { Inject, Injectable, Logger, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { createHash } from 'node:crypto';
import pluralize from 'pluralize';
import { DataSource, EntityMetadata } from 'typeorm';
import { AUDIT_OPTIONS } from './audit.constants';
import { ResolvedAuditOptions } from './audit-options';
import { RedactionRules } from './redaction';
import { AuditedOptions, AuditStateLoader } from './audit.types';
import { entityStateQuery, UUID } from './entity-state.sql';
import { installWalContextHook, isCapturedTable, tableNameOf } from './wal/wal-context.hook';

type PreparedQueryable = {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
};

type LoadState = (resourceId: string, organizationId: string | null) => Promise<unknown>;

/** Everything the interceptor needs about one audited handler, resolved once and cached. */
export interface AuditTarget {
  options: AuditedOptions;
  resourceType: string;
  idParam: string;
  responseIdPath: string;
  rules: RedactionRules;
  /** Fields whose changes never count: the module's, the resource type's and the decorator's. */
  ignoredFields: readonly string[];
  /** Loads the current state of the resource, or undefined when there is no way to (no entity, no loader). */
  loadState?: LoadState;
  /** The TypeORM entity of the resource, when known (transactional capture matches on it). */
  entity?: EntityMetadata;
  /** Take the before state from the handler's own TypeORM load of the row (`beforeState: 'handler'`). */
  beforeFromHandler: boolean;
}

/** `AccountsController` -> `account`, `CompanyPoliciesController` -> `company-policy`. */
export function resourceTypeFromController(name: string): string {
  const words = name.replace(/Controller$/, '').split(/(?<=[a-z0-9])(?=[A-Z])/);
  words[words.length - 1] = pluralize.singular(words[words.length - 1]);
  return words.join('-').toLowerCase();
}

@Injectable()
export class AuditTargetResolver {
  private readonly logger = new Logger(AuditTargetResolver.name);
  private readonly cache = new WeakMap<object, AuditTarget>();
  private readonly globalRules: RedactionRules;

  constructor(
    @Inject(AUDIT_OPTIONS) private readonly options: ResolvedAuditOptions,
    private readonly moduleRef: ModuleRef,
    private readonly dataSource: DataSource,
  ) {
    this.globalRules = RedactionRules.fromKeys(options.redactKeys);
  }

  get rules(): RedactionRules {
    return this.globalRules;
  }

  /** Per resource type, the same array every time (its compiled matcher is cached by identity). */
  private readonly ignoredByType = new Map<string, readonly string[]>();

  /** The ignored fields of a resource type (module-wide plus per type), plus `extra`. */
  ignoredFieldsFor(
    resourceType: string | null | undefined,
    extra: readonly string[] = [],
  ): readonly string[] {
    const key = resourceType ?? '';
    let fields = this.ignoredByType.get(key);
    if (!fields) {
      const byType = resourceType ? (this.options.ignoredFieldsByResource[resourceType] ?? []) : [];
      fields = [...this.options.ignoredFields, ...byType];
      // Resource types of record() come from callers: a bound on what is remembered.
      if (this.ignoredByType.size < 1000) this.ignoredByType.set(key, fields);
    }
    return extra.length ? [...fields, ...extra] : fields;
  }

  resolve(controller: Type<unknown>, handler: object, options: AuditedOptions): AuditTarget {
    let target = this.cache.get(handler);
    if (!target) {
      const resourceType = options.resourceType ?? resourceTypeFromController(controller.name);
      // The first `wal` route puts the request context hook on the app's query runners (idempotent).
      if (options.consistency === 'wal') installWalContextHook(this.dataSource);
      const entity = options.loader ? undefined : this.entityMetadata(options.entity, resourceType);
      target = {
        options,
        resourceType,
        idParam: options.idParam ?? 'id',
        responseIdPath: options.responseIdPath ?? 'id',
        rules: this.globalRules.withPaths(options.redact),
        ignoredFields: this.ignoredFieldsFor(resourceType, options.ignoredFields),
        loadState: this.stateLoader(options, resourceType),
        entity,
        beforeFromHandler: options.beforeState === 'handler' && this.canWatch(entity, resourceType),
      };
      if (options.consistency === 'wal' && entity) this.checkCaptured(entity, resourceType);
      this.cache.set(handler, target);
    }
    return target;
  }

  /** A `wal` route whose entity AuditWalModule does not capture would record its failures only: said once. */
  private checkCaptured(entity: EntityMetadata, resourceType: string): void {
    const [schema, table] = tableNameOf(entity);
    if (!isCapturedTable(schema, table))
      this.logger.warn(
        `${resourceType}: consistency 'wal' but AuditWalModule does not capture ${schema}.${table}: add its entity to AuditWalModule.forRoot({ entities }), or its changes are not recorded`,
      );
  }

  /** `beforeState: 'handler'` needs a TypeORM entity with a single primary key to recognize the row. */
  private canWatch(entity: EntityMetadata | undefined, resourceType: string): boolean {
    if (entity && entity.primaryColumns.length === 1) return true;
    this.logger.warn(
      `${resourceType}: beforeState 'handler' needs a TypeORM entity with a single primary key ` +
        `(and no loader); the before state is loaded before the handler instead`,
    );
    return false;
  }

  private stateLoader(options: AuditedOptions, resourceType: string): LoadState | undefined {
    if (options.loader) {
      const loader = this.moduleRef.get<AuditStateLoader>(options.loader, { strict: false });
      return (id, organizationId) => loader.load(id, { organizationId });
    }
    const metadata = this.entityMetadata(options.entity, resourceType);
    return metadata ? this.entityLoader(metadata) : undefined;
  }

  private entityMetadata(entity: AuditedOptions['entity'], resourceType: string): EntityMetadata | undefined {
    if (!this.dataSource.isInitialized) return undefined;
    if (entity) return this.dataSource.getMetadata(entity);
    const wanted = resourceType.replace(/-/g, '').toLowerCase();
    return this.dataSource.entityMetadatas.find((m) => m.name.toLowerCase() === wanted);
  }

  /** A prepared primary-key SELECT built once: one round-trip, no query builder on the hot path. */
  private entityLoader(metadata: EntityMetadata): LoadState | undefined {
    const query = entityStateQuery(metadata);
    if (!query) {
      this.logger.warn(`${metadata.name}: composite primary key, before state not loaded (use a loader)`);
      return undefined;
    }
    // A named (prepared) statement on the driver's pg pool: parsed and planned once per connection, and
    // none of TypeORM's per-query machinery on the request path. Falls back to DataSource.query.
    const pool = (this.dataSource.driver as { master?: PreparedQueryable }).master;
    const name = `audit_before_${createHash('sha1').update(query.sql).digest('hex').slice(0, 16)}`;
    return async (id, organizationId) => {
      if (query.uuidKey && !UUID.test(id)) return undefined;
      const values = query.tenantScoped ? [id, organizationId] : [id];
      if (typeof pool?.query === 'function')
        return (await pool.query({ name, text: query.sql, values })).rows[0];
      const rows: unknown[] = await this.dataSource.query(query.sql, values);
      return rows[0];
    };
  }
}
