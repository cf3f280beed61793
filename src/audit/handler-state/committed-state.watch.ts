import { DataSource, EntityMetadata, EntitySubscriberInterface, ObjectLiteral, UpdateEvent } from 'typeorm';
import { entityStateQuery } from '../entity-state.sql';
import { EntitySnapshotter } from './entity-snapshot';
import { RowSlots } from './row-slots';

/** One save() of a watched row: the properties it wrote, and the row read right after, in its transaction. */
interface CommittedWrite {
  written: ReadonlyMap<string, unknown>;
  row: Record<string, unknown>;
}

/** One request-mode update waiting for the row as its handler's save() wrote it. */
export interface CommittedStateSlot {
  readonly id: string;
  readonly organizationId: string | null;
  /** The writes of the row seen while the request ran, oldest first (its own, and concurrent requests'). */
  writes: CommittedWrite[];
}

/** A request saves its row once or twice; more are other requests' writes of a busy row. */
const MAX_WRITES_PER_SLOT = 16;

/**
 * The after state of a request-mode update of an entity-backed resource, as committed. TypeORM's `save()`
 * writes only the columns that changed, so the entity a handler returns keeps the values it loaded for the
 * others, which a concurrent update may have changed in between: the last update's returned object need not
 * be the row it left. After each `save()` UPDATE of a watched row, still inside its transaction (the row
 * locked by it), the row is read by primary key: exactly the row that transaction commits. The handler's
 * result is matched to its own write by the values written (the result reports them), and its fields that
 * are columns take the row's values.
 *
 * Costs one primary-key read inside each audited update's transaction, and only while a request-mode update
 * of that row is in flight (slots, as for `beforeState: 'handler'`). Subscribed on first use, with no
 * `afterLoad`: TypeORM broadcasts no loads for it.
 */
export class CommittedStateWatch implements EntitySubscriberInterface {
  private readonly open = new RowSlots<CommittedStateSlot>();
  private subscribed = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly snapshotterOf: (metadata: EntityMetadata) => EntitySnapshotter,
  ) {}

  watch(metadata: EntityMetadata, id: string, organizationId: string | null): CommittedStateSlot {
    if (!this.subscribed) {
      this.dataSource.subscribers.push(this);
      this.subscribed = true;
    }
    return this.open.add(metadata, { id, organizationId, writes: [] });
  }

  release(metadata: EntityMetadata, slot: CommittedStateSlot): void {
    this.open.remove(metadata, slot);
  }

  get openSlots(): number {
    return this.open.size;
  }

  /**
   * The handler's result with its column fields as committed by its own write: the last write of the row
   * whose written values the result reports. Undefined when no write matches (no TypeORM save() of the row,
   * a query-builder update, a result that does not report what was written).
   */
  afterOf(slot: CommittedStateSlot, result: unknown): Record<string, unknown> | undefined {
    if (!isRecord(result)) return undefined;
    for (let i = slot.writes.length - 1; i >= 0; i--) {
      const { written, row } = slot.writes[i];
      if (!reports(result, written)) continue;
      const after: Record<string, unknown> = { ...result };
      for (const key of Object.keys(after)) if (key in row) after[key] = row[key];
      return after;
    }
    return undefined;
  }

  afterUpdate(event: UpdateEvent<ObjectLiteral>): Promise<void> | void {
    if (this.open.isEmpty || !event.entity || !this.open.watches(event.metadata)) return;
    if (event.updatedColumns.length === 0) return;
    const snapshotter = this.snapshotterOf(event.metadata);
    const id =
      snapshotter.idOf(event.entity) ??
      (event.databaseEntity ? snapshotter.idOf(event.databaseEntity) : null);
    const slots = this.open.of(event.metadata, id);
    if (!slots || id === null) return;
    const entity = event.entity;
    const written = new Map(event.updatedColumns.map((c) => [c.propertyName, c.getEntityValue(entity)]));
    return this.read(event, id).then(
      (row) => {
        if (!row) return;
        for (const slot of slots) {
          // Another organization's row never becomes this tenant's after state (as for the before state).
          if (!snapshotter.belongsTo(row, slot.organizationId)) continue;
          if (slot.writes.length >= MAX_WRITES_PER_SLOT) slot.writes.shift();
          slot.writes.push({ written, row });
        }
      },
      () => undefined, // the after state falls back to the handler's result; the write itself goes on
    );
  }

  private async read(
    event: UpdateEvent<ObjectLiteral>,
    id: string,
  ): Promise<Record<string, unknown> | undefined> {
    // Not tenant-scoped: the row just written, whoever's it is (belongsTo decides which slots take it).
    const query = entityStateQuery(event.metadata, { scoped: false });
    if (!query) return undefined;
    const rows: Record<string, unknown>[] = await event.queryRunner.query(query.sql, [id]);
    return rows[0];
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Whether the result reports the written values: at least one of them, and each one it has equal. */
function reports(result: Record<string, unknown>, written: ReadonlyMap<string, unknown>): boolean {
  let seen = false;
  for (const [key, value] of written) {
    if (!(key in result)) continue;
    if (!sameValue(result[key], value)) return false;
    seen = true;
  }
  return seen;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  try {
    return JSON.stringify(a) === JSON.stringify(b);
  } catch {
    return false;
  }
}
