import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { PersonalDataService } from '../audit';
import { AuthUser } from '../common/auth/auth.types';
import { AUDIT_CONFIG } from '../common/config/audit-config';
import { AuditTrailConfig } from '../common/config/audit-config';
import { CursorCodec, CursorPosition } from './cursor';
import { GroupPageQuery, ListEventsQuery, PageQuery } from './dto/list-events.query';
import { EventFilters, filtersKey, toEventFilters } from './event-filters';
import { EventView, toEventView } from './event.view';
import { EventRow, EventsRepository } from './events.repository';
import { QueryCache } from './query-cache.service';
import { organizationScope } from '../common/auth/tenant-scope';

export interface EventPage {
  items: EventView[];
  nextCursor: string | null;
}

const DEFAULT_LIMIT = 50;

@Injectable()
export class EventsService {
  private readonly cursors: CursorCodec;

  constructor(
    private readonly events: EventsRepository,
    private readonly cache: QueryCache,
    private readonly personal: PersonalDataService,
    @Inject(AUDIT_CONFIG) config: AuditTrailConfig,
  ) {
    this.cursors = new CursorCodec(config.cursorSecret);
  }

  /** Newest first. First pages are cached per tenant (invalidated when that tenant's events are written). */
  async list(user: AuthUser, query: ListEventsQuery): Promise<EventPage> {
    const filters = toEventFilters(query, organizationScope(user, query.organizationId));
    const load = () => this.paged(filters, query, 'desc');
    if (query.cursor) return this.reveal(await load());
    // The cache holds pages as stored (personal data encrypted); they are decrypted on every read, so an
    // erasure shows at once and no plaintext personal data ever sits in Redis.
    const page = await this.cache.wrap(
      filters.organizationId,
      `events:${filtersKey(filters)}:${query.limit ?? DEFAULT_LIMIT}`,
      load,
    );
    return this.reveal(page);
  }

  async get(user: AuthUser, id: string): Promise<EventView> {
    // Another organization's event is "not found": its existence is not revealed.
    const row = await this.events.findById(id, organizationScope(user, undefined));
    if (!row) throw new NotFoundException(`Event ${id} not found`);
    const [view] = await this.personal.reveal([toEventView(row)]);
    return view;
  }

  /** A resource's history, oldest first, each step with its diff. */
  async history(
    user: AuthUser,
    resourceType: string,
    resourceId: string,
    query: PageQuery,
  ): Promise<EventPage> {
    const filters: EventFilters = {
      organizationId: organizationScope(user, undefined),
      resourceType,
      resourceId,
    };
    return this.reveal(await this.paged(filters, query, 'asc'));
  }

  /** What one actor did, newest first, with the usual filters. */
  async activity(user: AuthUser, actorId: string, query: ListEventsQuery): Promise<EventPage> {
    const filters = { ...toEventFilters(query, organizationScope(user, query.organizationId)), actorId };
    return this.reveal(await this.paged(filters, query, 'desc'));
  }

  /** Everything one request did (its events across resources), oldest first. */
  async byRequest(user: AuthUser, requestId: string, query: GroupPageQuery): Promise<EventPage> {
    const filters: EventFilters = {
      organizationId: organizationScope(user, query.organizationId),
      requestId,
    };
    return this.reveal(await this.paged(filters, query, 'asc'));
  }

  /** Everything one Postgres transaction wrote (transactional capture), oldest first. */
  async byTransaction(user: AuthUser, transactionId: string, query: GroupPageQuery): Promise<EventPage> {
    const filters: EventFilters = {
      organizationId: organizationScope(user, query.organizationId),
      // Stored as xid8 text: no leading zeros.
      transactionId: BigInt(transactionId).toString(),
    };
    return this.reveal(await this.paged(filters, query, 'asc'));
  }

  private async reveal(page: EventPage): Promise<EventPage> {
    return { ...page, items: await this.personal.reveal(page.items) };
  }

  private async paged(filters: EventFilters, page: PageQuery, order: 'asc' | 'desc'): Promise<EventPage> {
    // The cursor is bound to the filters (tenant included) and the order it was issued for: reusing it
    // elsewhere is a 400, never a way to read another tenant's page.
    const scope = `${order}:${filtersKey(filters)}`;
    let after: CursorPosition | null = null;
    if (page.cursor) {
      after = this.cursors.decode(page.cursor, scope);
      if (!after) throw new BadRequestException(['cursor is invalid or does not belong to this query']);
    }
    const limit = page.limit ?? DEFAULT_LIMIT;
    const rows: EventRow[] =
      order === 'desc'
        ? await this.events.page(filters, after, limit + 1)
        : await this.events.pageAscending(filters, after, limit + 1);
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: items.map(toEventView),
      nextCursor:
        rows.length > limit && last
          ? this.cursors.encode({ occurredAt: last.occurred_at_text, id: last.id }, scope)
          : null,
    };
  }
}
