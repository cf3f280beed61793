export interface PartitionRange {
  name: string;
  from: Date;
  to: Date;
}

export type Granularity = 'monthly' | 'weekly' | 'daily';

const pad = (n: number) => String(n).padStart(2, '0');
const DAY_MS = 86_400_000;

/** The monthly partition holding `at` (UTC): `audit_events_p2026_11` covers [2026-11-01, 2026-12-01). */
export function monthlyPartition(at: Date, parent = 'audit_events'): PartitionRange {
  const from = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
  const to = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
  return { name: `${parent}_p${from.getUTCFullYear()}_${pad(from.getUTCMonth() + 1)}`, from, to };
}

const dayStamp = (d: Date) => `${d.getUTCFullYear()}_${pad(d.getUTCMonth() + 1)}_${pad(d.getUTCDate())}`;

/** The ISO week (Monday 00:00 UTC to the next Monday) holding `at`: `audit_events_w2026_11_23`. */
export function weeklyPartition(at: Date, parent = 'audit_events'): PartitionRange {
  const midnight = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
  const sinceMonday = (new Date(midnight).getUTCDay() + 6) % 7;
  const from = new Date(midnight - sinceMonday * DAY_MS);
  return { name: `${parent}_w${dayStamp(from)}`, from, to: new Date(from.getTime() + 7 * DAY_MS) };
}

/** The UTC day holding `at`: `audit_events_d2026_11_23`. */
export function dailyPartition(at: Date, parent = 'audit_events'): PartitionRange {
  const from = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
  return { name: `${parent}_d${dayStamp(from)}`, from, to: new Date(from.getTime() + DAY_MS) };
}

/** The partition of the given granularity holding `at`. */
export function partitionFor(at: Date, granularity: Granularity = 'monthly', parent = 'audit_events') {
  if (granularity === 'weekly') return weeklyPartition(at, parent);
  if (granularity === 'daily') return dailyPartition(at, parent);
  return monthlyPartition(at, parent);
}

/** The partition of `now` and the `ahead` following ones. */
export function partitionsAhead(
  now: Date,
  ahead: number,
  parent = 'audit_events',
  granularity: Granularity = 'monthly',
): PartitionRange[] {
  const ranges = [partitionFor(now, granularity, parent)];
  while (ranges.length <= ahead) ranges.push(partitionFor(ranges[ranges.length - 1].to, granularity, parent));
  return ranges;
}

/** True when [a.from, a.to) and [b.from, b.to) share an instant. */
export function overlaps(a: { from: Date; to: Date }, b: { from: Date; to: Date }): boolean {
  return a.from < b.to && b.from < a.to;
}
