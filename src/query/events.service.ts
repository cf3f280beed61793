import { BadRequestException, ForbiddenException, Inject, Injectable } from '@nestjs/common';
import { AuthUser, ROLES } from 'src/common/auth/auth.types';
import { APP_CONFIG } from 'src/common/config/app-config.module';
import { AppConfig } from 'src/common/config/environment';
import { CursorCodec } from 'src/query/cursor';
import { ListEventsQuery } from 'src/query/dto/list-events.query';
import { EventView, toEventView } from 'src/query/event.view';
import { EventFilters, EventsRepository } from 'src/query/events.repository';

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
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.cursors = new CursorCodec(config.jwtSecret);
  }

  async list(user: AuthUser, query: ListEventsQuery): Promise<EventPage> {
    const filters: EventFilters = {
      organizationId: this.organizationScope(user, query.organizationId),
      actorId: query.actorId,
      resourceType: query.resourceType,
      resourceId: query.resourceId,
      action: query.action,
      status: query.status,
    };
    // The cursor is bound to the filters it was issued for: reusing it elsewhere is a 400, not a leak.
    const scope = JSON.stringify(filters);
    const after = query.cursor ? this.cursors.decode(query.cursor, scope) : null;
    if (query.cursor && !after)
      throw new BadRequestException(['cursor is invalid or does not belong to this query']);
    const limit = query.limit ?? DEFAULT_LIMIT;
    const rows = await this.events.page(filters, after, limit + 1);
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

  /** `audit:read` sees its own organization only; `audit:read:all` every one, or the one it asks for. */
  private organizationScope(user: AuthUser, requested: string | undefined): string | null | undefined {
    if (user.roles.includes(ROLES.readAll)) return requested;
    if (!user.org) throw new ForbiddenException('Token has no organization (org claim)');
    if (requested !== undefined && requested !== user.org) {
      throw new ForbiddenException('organizationId filter requires the audit:read:all role');
    }
    return user.org;
  }
}
