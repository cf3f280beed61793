import { BadRequestException, Injectable } from '@nestjs/common';
import { AuthUser } from '../common/auth/auth.types';
import { organizationScope } from '../common/auth/tenant-scope';
import { MIN_TIMESTAMP, parseIsoTimestamp } from '../common/validation';
import { ActorSummaryQuery } from './dto/actor-summary.query';
import { EventsRepository } from './events.repository';

const DAY_MS = 24 * 3600 * 1000;
export const SUMMARY_DEFAULT_DAYS = 30;
export const SUMMARY_MAX_DAYS = 366;

export interface ActorActionCount {
  action: string;
  events: number;
  failures: number;
}

export interface ActorSummary {
  actorId: string;
  /** The range counted, [from, to), ISO 8601. */
  from: string;
  to: string;
  /** Every event of the actor in the range (the sum of the items' events). */
  total: number;
  /** Per action, most events first (then by action). */
  items: ActorActionCount[];
}

/**
 * The range of a summary: `to` defaults to now, `from` to 30 days before `to`; `from` must be before `to`
 * and at most 366 days before it (400 naming `from`).
 */
export function summaryRange(
  query: { from?: string; to?: string },
  now = new Date(),
): { from: Date; to: Date } {
  const to = query.to === undefined ? now : timeOf(query.to, 'to');
  const from =
    query.from === undefined
      ? new Date(Math.max(MIN_TIMESTAMP, to.getTime() - SUMMARY_DEFAULT_DAYS * DAY_MS))
      : timeOf(query.from, 'from');
  if (from >= to) throw new BadRequestException(['from must be before to']);
  if (to.getTime() - from.getTime() > SUMMARY_MAX_DAYS * DAY_MS)
    throw new BadRequestException([`from must be at most ${SUMMARY_MAX_DAYS} days before to`]);
  return { from, to };
}

function timeOf(value: string, field: string): Date {
  const time = parseIsoTimestamp(value);
  if (!time) throw new BadRequestException([`${field} must be an ISO 8601 date or date-time`]);
  return time;
}

/**
 * What one actor did, counted live from the events (hot and warm) per action. Tenant-scoped like the
 * activity listing: another organization's actor is simply not counted (total 0), never revealed.
 */
@Injectable()
export class ActorSummaryService {
  constructor(private readonly events: EventsRepository) {}

  async summary(user: AuthUser, actorId: string, query: ActorSummaryQuery): Promise<ActorSummary> {
    const organizationId = organizationScope(user, query.organizationId);
    const { from, to } = summaryRange(query);
    const items = await this.events.actionCounts(actorId, organizationId, from, to);
    return {
      actorId,
      from: from.toISOString(),
      to: to.toISOString(),
      total: items.reduce((n, i) => n + i.events, 0),
      items,
    };
  }
}
