import { BadRequestException } from '@nestjs/common';
import { parseIsoTimestamp } from '../common/validation';
import { EventFiltersQuery } from './dto/event-filters.query';

/** Validated, tenant-scoped filters as the repository takes them. */
export interface EventFilters {
  /** undefined: every organization (audit:read:all without a filter). */
  organizationId?: string;
  actorId?: string;
  resourceType?: string;
  resourceId?: string;
  action?: string;
  eventType?: string;
  status?: string;
  severity?: string;
  from?: Date;
  to?: Date;
  q?: string;
  /** Case-insensitive substring of `metadata.reason`. */
  reason?: string;
  /** Grouping reads only (not query parameters of the listings): one request's, one transaction's events. */
  requestId?: string;
  transactionId?: string;
}

/**
 * Query DTO + the caller's organization scope -> filters; `from` after `to`, or a time the DTO should have
 * refused, is a 400 naming the field (never an Invalid Date on its way to SQL).
 */
export function toEventFilters(query: EventFiltersQuery, organizationId: string | undefined): EventFilters {
  const from = timeOf(query.from, 'from');
  const to = timeOf(query.to, 'to');
  if (from && to && from > to) throw new BadRequestException(['from must be before to']);
  return {
    organizationId,
    actorId: query.actorId,
    resourceType: query.resourceType,
    resourceId: query.resourceId,
    action: query.action,
    eventType: query.eventType,
    status: query.status,
    severity: query.severity,
    from,
    to,
    q: query.q,
    reason: query.reason,
  };
}

function timeOf(value: string | undefined, field: string): Date | undefined {
  if (value === undefined) return undefined;
  const time = parseIsoTimestamp(value);
  if (!time) throw new BadRequestException([`${field} must be an ISO 8601 date or date-time`]);
  return time;
}

/** A stable text of the filters, to bind cursors and cache keys to them. */
export function filtersKey(filters: EventFilters): string {
  return JSON.stringify(filters, (_key, value) => (value instanceof Date ? value.toISOString() : value));
}
