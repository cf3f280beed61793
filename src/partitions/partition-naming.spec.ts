import {
  dailyPartition,
  monthlyPartition,
  overlaps,
  partitionFor,
  partitionsAhead,
  weeklyPartition,
} from './partition-naming';

const utc = (iso: string) => new Date(iso);

describe('monthlyPartition', () => {
  it('names the month of the date and covers [first of month, first of next month) in UTC', () => {
    expect(monthlyPartition(utc('2026-11-15T10:00:00Z'))).toEqual({
      name: 'audit_events_p2026_11',
      from: utc('2026-11-01T00:00:00Z'),
      to: utc('2026-12-01T00:00:00Z'),
    });
  });

  it('pads single-digit months', () => {
    expect(monthlyPartition(utc('2026-03-01T00:00:00Z')).name).toBe('audit_events_p2026_03');
  });

  it('rolls December over to January of the next year', () => {
    expect(monthlyPartition(utc('2026-12-31T23:59:59.999Z'))).toEqual({
      name: 'audit_events_p2026_12',
      from: utc('2026-12-01T00:00:00Z'),
      to: utc('2027-01-01T00:00:00Z'),
    });
  });

  it('keeps an instant late on the last day of a month in that month', () => {
    expect(monthlyPartition(utc('2026-01-31T23:30:00Z')).name).toBe('audit_events_p2026_01');
  });

  it('uses the UTC month, not the local one of the given offset', () => {
    // 00:30 on February 1st in UTC+2 is still January 31st in UTC.
    expect(monthlyPartition(utc('2026-02-01T00:30:00+02:00')).name).toBe('audit_events_p2026_01');
  });

  it('ends February on March 1st in a leap year', () => {
    expect(monthlyPartition(utc('2028-02-29T12:00:00Z')).to).toEqual(utc('2028-03-01T00:00:00Z'));
  });

  it('uses the given parent table name', () => {
    expect(monthlyPartition(utc('2026-11-15T10:00:00Z'), 'audit_archive').name).toBe(
      'audit_archive_p2026_11',
    );
  });
});

describe('partitionsAhead', () => {
  it('returns the current month and the given number of following months', () => {
    expect(partitionsAhead(utc('2026-10-31T23:00:00Z'), 3).map((p) => p.name)).toEqual([
      'audit_events_p2026_10',
      'audit_events_p2026_11',
      'audit_events_p2026_12',
      'audit_events_p2027_01',
    ]);
  });

  it('returns only the current month with zero ahead', () => {
    expect(partitionsAhead(utc('2026-10-15T00:00:00Z'), 0)).toEqual([
      monthlyPartition(utc('2026-10-15T00:00:00Z')),
    ]);
  });

  it('returns contiguous ranges, the first holding now', () => {
    const now = utc('2026-01-31T23:59:59Z');
    const ranges = partitionsAhead(now, 14);
    expect(ranges).toHaveLength(15);
    expect(ranges[0].from.getTime()).toBeLessThanOrEqual(now.getTime());
    expect(ranges[0].to.getTime()).toBeGreaterThan(now.getTime());
    for (let i = 1; i < ranges.length; i++) expect(ranges[i].from).toEqual(ranges[i - 1].to);
    expect(new Set(ranges.map((r) => r.name)).size).toBe(ranges.length);
  });

  it('uses the given parent table name', () => {
    expect(partitionsAhead(utc('2026-10-15T00:00:00Z'), 1, 'audit_archive').map((p) => p.name)).toEqual([
      'audit_archive_p2026_10',
      'audit_archive_p2026_11',
    ]);
  });
});

describe('weekly and daily partitions', () => {
  it('starts a week on Monday 00:00 UTC and names it by that date', () => {
    expect(weeklyPartition(utc('2026-11-26T15:00:00Z'))).toEqual({
      name: 'audit_events_w2026_11_23',
      from: utc('2026-11-23T00:00:00Z'),
      to: utc('2026-11-30T00:00:00Z'),
    });
    // A Sunday belongs to the week that started six days before.
    expect(weeklyPartition(utc('2026-11-29T23:59:59Z')).name).toBe('audit_events_w2026_11_23');
    expect(weeklyPartition(utc('2026-11-30T00:00:00Z')).name).toBe('audit_events_w2026_11_30');
  });

  it('names a week crossing a year by its Monday', () => {
    expect(weeklyPartition(utc('2027-01-01T00:00:00Z')).name).toBe('audit_events_w2026_12_28');
  });

  it('covers one UTC day per daily partition', () => {
    expect(dailyPartition(utc('2028-02-29T23:00:00Z'))).toEqual({
      name: 'audit_events_d2028_02_29',
      from: utc('2028-02-29T00:00:00Z'),
      to: utc('2028-03-01T00:00:00Z'),
    });
  });

  it('premakes contiguous ranges at each granularity', () => {
    for (const granularity of ['monthly', 'weekly', 'daily'] as const) {
      const ranges = partitionsAhead(utc('2026-12-31T12:00:00Z'), 5, 'audit_events', granularity);
      expect(ranges).toHaveLength(6);
      expect(ranges[0]).toEqual(partitionFor(utc('2026-12-31T12:00:00Z'), granularity));
      for (let i = 1; i < ranges.length; i++) expect(ranges[i].from).toEqual(ranges[i - 1].to);
    }
  });

  it('detects overlapping ranges, touching ones do not overlap', () => {
    const month = monthlyPartition(utc('2026-11-15T00:00:00Z'));
    expect(overlaps(month, weeklyPartition(utc('2026-11-30T00:00:00Z')))).toBe(true);
    expect(overlaps(month, dailyPartition(utc('2026-12-01T00:00:00Z')))).toBe(false);
  });
});
