import { BadRequestException } from '@nestjs/common';
import { summaryRange } from './actor-summary.service';

const DAY = 24 * 3600 * 1000;
const NOW = new Date('2026-11-24T12:00:00.000Z');

const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestException);
    return ((error as BadRequestException).getResponse() as { message: string[] }).message.join(' ');
  }
  throw new Error('expected a 400');
};

describe('summaryRange', () => {
  it('defaults to the last 30 days before now', () => {
    expect(summaryRange({}, NOW)).toEqual({ from: new Date(NOW.getTime() - 30 * DAY), to: NOW });
  });

  it('defaults from to 30 days before an explicit to, and to to now', () => {
    expect(summaryRange({ to: '2026-02-01' }, NOW).from).toEqual(new Date('2026-01-02T00:00:00Z'));
    expect(summaryRange({ from: '2026-11-01' }, NOW)).toEqual({
      from: new Date('2026-11-01T00:00:00Z'),
      to: NOW,
    });
  });

  it('never starts before 1970', () => {
    expect(summaryRange({ to: '1970-01-05' }, NOW).from).toEqual(new Date(0));
  });

  it('accepts exactly 366 days and refuses one millisecond more, naming from', () => {
    expect(summaryRange({ from: '2025-01-01', to: '2026-01-02' }, NOW).from).toEqual(new Date('2025-01-01Z'));
    expect(message(() => summaryRange({ from: '2025-01-01', to: '2026-01-02T00:00:00.001Z' }, NOW))).toMatch(
      /^from must be at most 366 days before to$/,
    );
  });

  it('refuses from at or after to, and a from after now without to', () => {
    expect(message(() => summaryRange({ from: '2026-01-02', to: '2026-01-02' }, NOW))).toMatch(/^from /);
    expect(message(() => summaryRange({ from: '2026-12-01' }, NOW))).toMatch(/^from /);
  });

  it('names the field of a time the DTO should have refused', () => {
    expect(message(() => summaryRange({ to: '2026-02-30' }, NOW))).toMatch(/^to must be/);
  });
});
