export interface PartitionRange {
  name: string;
  from: Date;
  to: Date;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** The monthly partition holding `at` (UTC): `audit_events_p2026_11` covers [2026-11-01, 2026-12-01). */
export function monthlyPartition(at: Date, parent = 'audit_events'): PartitionRange {
  const from = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
  const to = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
  return { name: `${parent}_p${from.getUTCFullYear()}_${pad(from.getUTCMonth() + 1)}`, from, to };
}

/** The partition of `now` and the `ahead` following ones. */
export function partitionsAhead(now: Date, ahead: number, parent = 'audit_events'): PartitionRange[] {
  return Array.from({ length: ahead + 1 }, (_, i) =>
    monthlyPartition(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1)), parent),
  );
}
