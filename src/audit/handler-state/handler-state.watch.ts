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
import { EntitySnapshotter } from './entity-snapshot';

/** One audited mutation waiting for its handler to load the row it changes. */
export interface HandlerStateSlot {
  readonly id: string;
  readonly organizationId: string | null;
  /** The row as first loaded through TypeORM after the request started; undefined until then. */
  state: Record<string, unknown> | undefined;
}

type EntityTarget = EntityMetadata['target'];

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
  private readonly open = new Map<EntityTarget, Map<string, HandlerStateSlot[]>>();
  private readonly snapshotters = new Map<EntityMetadata, EntitySnapshotter>();

  private subscribed = false;

  constructor(private readonly dataSource: DataSource) {}

  watch(metadata: EntityMetadata, id: string, organizationId: string | null): HandlerStateSlot {
    // Subscribed on first use: an `afterLoad` subscriber makes TypeORM broadcast every entity it loads, a cost
    // an app that never uses `beforeState: 'handler'` should not pay.
    if (!this.subscribed) {
      this.dataSource.subscribers.push(this);
      this.subscribed = true;
    }
    const slot: HandlerStateSlot = { id, organizationId, state: undefined };
    let rows = this.open.get(metadata.target);
    if (!rows) this.open.set(metadata.target, (rows = new Map()));
    const slots = rows.get(id);
    if (slots) slots.push(slot);
    else rows.set(id, [slot]);
    return slot;
  }

  release(metadata: EntityMetadata, slot: HandlerStateSlot): void {
    const rows = this.open.get(metadata.target);
    const slots = rows?.get(slot.id);
    if (!rows || !slots) return;
    const remaining = slots.filter((s) => s !== slot);
    if (remaining.length > 0) rows.set(slot.id, remaining);
    else if (rows.delete(slot.id) && rows.size === 0) this.open.delete(metadata.target);
  }

  /** Open slots (for tests and metrics: zero when no audited mutation is in flight). */
  get openSlots(): number {
    let count = 0;
    for (const rows of this.open.values()) for (const slots of rows.values()) count += slots.length;
    return count;
  }

  afterLoad(entity: ObjectLiteral, event?: LoadEvent<ObjectLiteral>): void {
    if (this.open.size > 0 && event) this.offer(event.metadata, entity);
  }

  beforeUpdate(event: UpdateEvent<ObjectLiteral>): void {
    if (this.open.size > 0 && event.databaseEntity) this.offer(event.metadata, event.databaseEntity);
  }

  beforeRemove(event: RemoveEvent<ObjectLiteral>): void {
    if (this.open.size > 0 && event.databaseEntity) this.offer(event.metadata, event.databaseEntity);
  }

  private offer(metadata: EntityMetadata, entity: ObjectLiteral): void {
    const rows = this.open.get(metadata.target);
    if (!rows) return;
    const snapshotter = this.snapshotterOf(metadata);
    const id = snapshotter.idOf(entity);
    const slots = id === null ? undefined : rows.get(id);
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
