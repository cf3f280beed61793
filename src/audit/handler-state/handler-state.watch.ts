import { Injectable } from '@nestjs/common';
import {
  DataSource,
  EntityMetadata,
  EntitySubscriberInterface,
  LoadEvent,
  ObjectLiteral,
  RemoveEvent,
  UpdateEvent,
} from 'typeorm';
import { CommittedStateWatch } from './committed-state.watch';
import { EntitySnapshotter } from './entity-snapshot';
import { RowSlots } from './row-slots';

/** One audited mutation waiting for its handler to load the row it changes. */
export interface HandlerStateSlot {
  readonly id: string;
  readonly organizationId: string | null;
  /** The row as first loaded through TypeORM after the request started; undefined until then. */
  state: Record<string, unknown> | undefined;
}

/**
 * `@Audited({ beforeState: 'handler' })`: the before state of a mutation is the row as the handler itself
 * loads it through TypeORM (`find*`, or the load `save()`/`remove()` makes before writing), so no extra query
 * runs on the request path. The interceptor opens a slot for (entity, id) before the handler runs and
 * releases it once the event is built; in between, this subscriber fills the slot with the first whole load
 * of that row it sees.
 *
 * Slots are matched by row, not by request (no AsyncLocalStorage, whose promise hooks cost more on Node 20
 * than the query saved). A slot can therefore be filled by another request's load of the same row; that load
 * still happened after this request started and, for a handler that loads the row before changing it, before
 * this request's write: a valid before state, with the same caveat as the default (two concurrent updates of
 * one row may record the same before state). A handler that writes without loading the row first must keep
 * the default, `beforeState: 'load'`.
 */
@Injectable()
export class HandlerStateWatch implements EntitySubscriberInterface {
  private readonly open = new RowSlots<HandlerStateSlot>();
  private readonly snapshotters = new Map<EntityMetadata, EntitySnapshotter>();
  /** The after state of request-mode updates: the row as each save() of it committed it. */
  readonly committed: CommittedStateWatch;

  private subscribed = false;

  constructor(private readonly dataSource: DataSource) {
    this.committed = new CommittedStateWatch(dataSource, (metadata) => this.snapshotterOf(metadata));
  }

  watch(metadata: EntityMetadata, id: string, organizationId: string | null): HandlerStateSlot {
    // Subscribed on first use: an `afterLoad` subscriber makes TypeORM broadcast every entity it loads, a cost
    // an app that never uses `beforeState: 'handler'` should not pay.
    if (!this.subscribed) {
      this.dataSource.subscribers.push(this);
      this.subscribed = true;
    }
    return this.open.add(metadata, { id, organizationId, state: undefined });
  }

  release(metadata: EntityMetadata, slot: HandlerStateSlot): void {
    this.open.remove(metadata, slot);
  }

  /** Open slots (for tests and metrics: zero when no audited mutation is in flight). */
  get openSlots(): number {
    return this.open.size + this.committed.openSlots;
  }

  afterLoad(entity: ObjectLiteral, event?: LoadEvent<ObjectLiteral>): void {
    if (!this.open.isEmpty && event) this.offer(event.metadata, entity);
  }

  beforeUpdate(event: UpdateEvent<ObjectLiteral>): void {
    if (!this.open.isEmpty && event.databaseEntity) this.offer(event.metadata, event.databaseEntity);
  }

  beforeRemove(event: RemoveEvent<ObjectLiteral>): void {
    if (!this.open.isEmpty && event.databaseEntity) this.offer(event.metadata, event.databaseEntity);
  }

  private offer(metadata: EntityMetadata, entity: ObjectLiteral): void {
    if (!this.open.watches(metadata)) return;
    const snapshotter = this.snapshotterOf(metadata);
    const slots = this.open.of(metadata, snapshotter.idOf(entity));
    if (!slots) return;
    let state: Record<string, unknown> | undefined;
    for (const slot of slots) {
      if (slot.state !== undefined || !snapshotter.belongsTo(entity, slot.organizationId)) continue;
      state ??= snapshotter.snapshot(entity);
      if (state === undefined) return; // a partial load: wait for a whole one
      slot.state = state;
    }
  }

  private snapshotterOf(metadata: EntityMetadata): EntitySnapshotter {
    let snapshotter = this.snapshotters.get(metadata);
    if (!snapshotter) this.snapshotters.set(metadata, (snapshotter = new EntitySnapshotter(metadata)));
    return snapshotter;
  }
}
