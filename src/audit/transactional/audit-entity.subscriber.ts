import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import {
  DataSource,
  EntityMetadata,
  EntitySubscriberInterface,
  InsertEvent,
  ObjectLiteral,
  QueryRunner,
  RemoveEvent,
  TransactionCommitEvent,
  TransactionRollbackEvent,
  TransactionStartEvent,
  UpdateEvent,
} from 'typeorm';
import { AUDIT_OPTIONS } from '../audit.constants';
import { AuditEventRepository } from '../audit-event.repository';
import { buildAuditEvent } from '../audit-event.factory';
import { PersonalDataService } from '../personal-data/personal-data.service';
import { ResolvedAuditOptions } from '../audit-options';
import { AuditAction } from '../audit.types';
import { entityStateQuery } from '../entity-state.sql';
import { reasonContext, withReserved } from '../reason';
import { TransactionalCapture, transactionalCapture } from './audit-context';

/**
 * `@Audited({ consistency: 'transactional' })`: captures TypeORM writes inside their own transaction.
 * Before an update/remove the row is re-read with SELECT ... FOR UPDATE (so a concurrent writer waits and
 * the before state is exactly what this transaction overwrites); after it, the row is re-read and the audit
 * row is INSERTed on the same connection, so it commits (or rolls back) with the change.
 */
@Injectable()
export class AuditEntitySubscriber implements EntitySubscriberInterface, OnModuleInit {
  private readonly logger = new Logger(AuditEntitySubscriber.name);
  /** Each connection's current transaction id, read once per transaction (forgotten when it ends). */
  private readonly transactionIds = new WeakMap<QueryRunner, Promise<string | null>>();

  constructor(
    private readonly dataSource: DataSource,
    @Inject(AUDIT_OPTIONS) private readonly options: ResolvedAuditOptions,
    private readonly personal: PersonalDataService,
  ) {}

  onModuleInit(): void {
    this.dataSource.subscribers.push(this);
  }

  // Every TypeORM write of the app goes through these hooks: outside a transactional capture they return at
  // once, without a promise for TypeORM to wait on.

  beforeTransactionStart(event: TransactionStartEvent): void {
    this.transactionIds.delete(event.queryRunner);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    this.transactionIds.delete(event.queryRunner);
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    this.transactionIds.delete(event.queryRunner);
  }

  afterInsert(event: InsertEvent<ObjectLiteral>): Promise<void> | void {
    const capture = this.captureFor(event.metadata);
    if (capture) return this.captureInsert(event, capture);
  }

  beforeUpdate(event: UpdateEvent<ObjectLiteral>): Promise<void> | void {
    return this.lockBefore(event);
  }

  afterUpdate(event: UpdateEvent<ObjectLiteral>): Promise<void> | void {
    const capture = this.captureFor(event.metadata);
    const id = capture && this.idOf(event.metadata, event.entity ?? event.databaseEntity);
    if (capture && id) return this.captureUpdate(event, capture, id);
  }

  beforeRemove(event: RemoveEvent<ObjectLiteral>): Promise<void> | void {
    return this.lockBefore(event);
  }

  afterRemove(event: RemoveEvent<ObjectLiteral>): Promise<void> | void {
    const capture = this.captureFor(event.metadata);
    const id =
      capture &&
      ((event.entityId as string | undefined)?.toString() ?? this.idOf(event.metadata, event.databaseEntity));
    if (capture && id)
      return this.store(event.queryRunner, capture, 'delete', id, capture.before.get(id), undefined);
  }

  private async captureInsert(
    event: InsertEvent<ObjectLiteral>,
    capture: TransactionalCapture,
  ): Promise<void> {
    const id = this.idOf(event.metadata, event.entity);
    const after = id && (await this.read(event.queryRunner, event.metadata, id, false));
    await this.store(event.queryRunner, capture, 'create', id, undefined, after);
  }

  private async captureUpdate(
    event: UpdateEvent<ObjectLiteral>,
    capture: TransactionalCapture,
    id: string,
  ): Promise<void> {
    const after = await this.read(event.queryRunner, event.metadata, id, false);
    await this.store(event.queryRunner, capture, 'update', id, capture.before.get(id), after);
  }

  /** Before an update or remove inside a capture: the row, locked, is the before state. */
  private lockBefore(event: UpdateEvent<ObjectLiteral> | RemoveEvent<ObjectLiteral>): Promise<void> | void {
    const capture = this.captureFor(event.metadata);
    const id = capture && this.idOf(event.metadata, event.entity ?? event.databaseEntity);
    if (capture && id) return this.lock(event.queryRunner, event.metadata, id, capture);
  }

  private async lock(
    runner: QueryRunner,
    metadata: EntityMetadata,
    id: string,
    capture: TransactionalCapture,
  ): Promise<void> {
    capture.before.set(id, await this.read(runner, metadata, id, true));
  }

  private captureFor(metadata: EntityMetadata): TransactionalCapture | undefined {
    const capture = transactionalCapture.getStore();
    return capture && capture.target.entity?.target === metadata.target ? capture : undefined;
  }

  private idOf(metadata: EntityMetadata, entity: ObjectLiteral | undefined): string | null {
    const value = entity && metadata.primaryColumns[0]?.getEntityValue(entity);
    return value === undefined || value === null ? null : String(value);
  }

  private async read(runner: QueryRunner, metadata: EntityMetadata, id: string, forUpdate: boolean) {
    // No tenant filter here: the handler already found this row, we re-read exactly the row being written.
    const query = entityStateQuery(metadata, { forUpdate, scoped: false });
    if (!query) return undefined;
    const rows: unknown[] = await runner.query(query.sql, [id]);
    return rows[0];
  }

  private async store(
    runner: QueryRunner,
    capture: TransactionalCapture,
    action: AuditAction,
    resourceId: string | null,
    before: unknown,
    after: unknown,
  ): Promise<void> {
    const { options } = capture.target;
    if (!runner.isTransactionActive) {
      this.logger.warn(
        `${capture.target.resourceType} ${action} outside a transaction: audit row is not atomic with it`,
      );
    }
    const base = capture.base();
    const event = buildAuditEvent(
      {
        ...base,
        // Grouping: every event of one write transaction carries its id; the reason is the request's, else
        // that of an enclosing AuditService.withReason().
        metadata: withReserved(base.metadata, {
          reason: base.metadata?.reason ?? reasonContext.getStore()?.reason,
          transactionId: runner.isTransactionActive ? await this.transactionId(runner) : null,
        }),
        action,
        resourceId,
        before,
        after,
        diff: action === 'update',
        recordNoOps: options.recordNoOps,
        status: 'success',
        severity: options.severity ?? 'info',
      },
      this.options.maxStateBytes,
    );
    if (!event) return;
    const stored = this.personal.protect(event);
    await AuditEventRepository.insertWithin(runner, stored.event, stored.keys);
    capture.captured++;
  }

  /**
   * The write transaction's id (xid8 as decimal text); it has one already, having just written. Read once per
   * transaction: a bulk save of many rows asks once, not once per row.
   */
  private transactionId(runner: QueryRunner): Promise<string | null> {
    let id = this.transactionIds.get(runner);
    if (!id) {
      id = runner
        .query(`SELECT pg_current_xact_id()::text AS xid`)
        .then((rows: Array<{ xid: string | null }>) => rows[0]?.xid ?? null);
      id.catch(() => this.transactionIds.delete(runner));
      this.transactionIds.set(runner, id);
    }
    return id;
  }
}
