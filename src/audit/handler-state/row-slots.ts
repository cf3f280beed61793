import { EntityMetadata } from 'typeorm';

type EntityTarget = EntityMetadata['target'];

/** Open slots of audited requests, by entity and row id (the route's id), for the watches' TypeORM hooks. */
export class RowSlots<Slot extends { readonly id: string }> {
  private readonly open = new Map<EntityTarget, Map<string, Slot[]>>();

  get isEmpty(): boolean {
    return this.open.size === 0;
  }

  add(metadata: EntityMetadata, slot: Slot): Slot {
    let rows = this.open.get(metadata.target);
    if (!rows) this.open.set(metadata.target, (rows = new Map()));
    const slots = rows.get(slot.id);
    if (slots) slots.push(slot);
    else rows.set(slot.id, [slot]);
    return slot;
  }

  remove(metadata: EntityMetadata, slot: Slot): void {
    const rows = this.open.get(metadata.target);
    const slots = rows?.get(slot.id);
    if (!rows || !slots) return;
    const remaining = slots.filter((s) => s !== slot);
    if (remaining.length > 0) rows.set(slot.id, remaining);
    else if (rows.delete(slot.id) && rows.size === 0) this.open.delete(metadata.target);
  }

  /** Whether any slot is open on this entity (a quick test before working out a row's id). */
  watches(metadata: EntityMetadata): boolean {
    return this.open.has(metadata.target);
  }

  of(metadata: EntityMetadata, id: string | null): Slot[] | undefined {
    return id === null ? undefined : this.open.get(metadata.target)?.get(id);
  }

  get size(): number {
    let count = 0;
    for (const rows of this.open.values()) for (const slots of rows.values()) count += slots.length;
    return count;
  }
}
