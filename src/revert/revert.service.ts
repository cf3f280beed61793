import {
  BadRequestException,
  ConflictException,
  HttpException,
  Inject,
  Injectable,
  InternalServerErrorException,
  Logger,
  NotFoundException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { AuditService, FieldChange, JsonValue, PersonalDataService } from '../audit';
import {
  foldStates,
  isTruncated,
  planRestore,
  planUndo,
  PlannedFields,
  StateEvent,
  undoFields,
} from './revert-plan';
import { httpMessage, nothingToRevert, tooManyEvents, truncated } from './revert.errors';
import { MAX_EVENTS_SINCE, RevertEventRow, RevertRepository } from './revert.repository';
import { AUDIT_REVERT_HANDLERS, RegisteredRevertHandler, RevertHandlers } from './revert.tokens';
import {
  AuditRevertRequest,
  RequestRevertPreview,
  RequestRevertResult,
  RevertPlan,
  RevertPreview,
  RevertRequestInput,
  RevertResourceInput,
  RevertResult,
  RevertSkippedResource,
} from './revert.types';

/** How long a revert waits for the events captured so far to be committed, so it reads the newest state. */
const FLUSH_TIMEOUT_MS = 5_000;

type Caller = Pick<RevertResourceInput, 'organizationId' | 'actor' | 'reason' | 'requestId' | 'userAgent'>;
type Planned = { plan: RevertPlan; registered: RegisteredRevertHandler };

/**
 * Reverts records to an earlier version of their trail, through the app's own code: a handler per resource
 * type (`AuditRevertHandler`) applies the changes, and each revert is recorded as a `revert` event linked to
 * the events it undoes. `preview*` computes the same without calling the handler (an audited read).
 */
@Injectable()
export class AuditRevertService {
  private readonly logger = new Logger('AuditRevert');

  constructor(
    private readonly events: RevertRepository,
    private readonly personal: PersonalDataService,
    private readonly audit: AuditService,
    @Inject(AUDIT_REVERT_HANDLERS) private readonly handlers: RevertHandlers,
  ) {}

  /** The resource types that have a handler. */
  get resourceTypes(): string[] {
    return [...this.handlers.keys()];
  }

  /** What `revert()` would do: the diff, the skipped fields, both states. Writes nothing but the read's event. */
  async preview(input: RevertResourceInput): Promise<RevertPreview> {
    const { plan } = await this.planResource(input);
    this.recordPreview(input, `${input.resourceType}:${input.resourceId}`, {
      resourceType: input.resourceType,
      toEventId: input.toEventId ?? null,
      undoEventId: input.undoEventId ?? null,
      changes: plan.changes.length,
    });
    return { dryRun: true, ...plan };
  }

  /** Restores the record (`toEventId`) or undoes one event (`undoEventId`) through its handler. */
  async revert(input: RevertResourceInput): Promise<RevertResult> {
    const { plan, registered } = await this.planResource(input);
    if (plan.changes.length === 0) throw nothingToRevert(plan);
    const { eventId, result } = await this.execute(input, plan, registered, {
      toEventId: input.toEventId ?? null,
      undoEventId: input.undoEventId ?? null,
    });
    return { dryRun: false, ...plan, revertEventIds: eventId ? [eventId] : [], result };
  }

  /** What `revertRequest()` would do, per resource the request updated. */
  async previewRequest(input: RevertRequestInput): Promise<RequestRevertPreview> {
    const { planned, skipped } = await this.planRequest(input);
    this.recordPreview(input, `request:${input.revertRequestId}`, {
      undoRequestId: input.revertRequestId,
      resources: planned.length,
      skippedResources: skipped.length,
    });
    return { dryRun: true, requestId: input.revertRequestId, resources: planned.map((p) => p.plan), skipped };
  }

  /**
   * Undoes every update one request made: each resource's fields go back to their value before the request,
   * newest change first, one handler call and one `revert` event per resource. Creates and deletes are not
   * undone (listed in `skipped`). Not atomic across resources: when a handler refuses, the resources reverted
   * before it stay reverted (and recorded), and the error names them.
   */
  async revertRequest(input: RevertRequestInput): Promise<RequestRevertResult> {
    const { planned, skipped } = await this.planRequest(input);
    if (!planned.some(({ plan }) => plan.changes.length > 0)) {
      throw new ConflictException(
        `Nothing to undo in request ${input.revertRequestId}: no field it changed can be restored`,
      );
    }
    const resources: RequestRevertResult['resources'] = [];
    const done: string[] = [];
    for (const { plan, registered } of planned) {
      if (plan.changes.length === 0) {
        resources.push({ ...plan, revertEventId: null, result: null });
        continue;
      }
      const metadata = { undoRequestId: input.revertRequestId };
      const { eventId, result } = await this.execute(input, plan, registered, metadata, done);
      done.push(`${plan.resourceType} ${plan.resourceId}`);
      resources.push({ ...plan, revertEventId: eventId, result });
    }
    const revertEventIds = resources.flatMap((r) => (r.revertEventId ? [r.revertEventId] : []));
    return { dryRun: false, requestId: input.revertRequestId, resources, skipped, revertEventIds };
  }

  private handlerFor(resourceType: string): RegisteredRevertHandler {
    const registered = this.handlers.get(resourceType);
    if (!registered) {
      const known = this.resourceTypes;
      throw new UnprocessableEntityException(
        `No revert handler is registered for resourceType '${resourceType}' (registered: ${
          known.length ? known.join(', ') : 'none'
        }; see AuditAdminModule.forRoot({ revert: { handlers } }))`,
      );
    }
    return registered;
  }

  private async planResource(input: RevertResourceInput): Promise<Planned> {
    const field = input.toEventId !== undefined ? 'toEventId' : 'undoEventId';
    const eventId = input.toEventId ?? input.undoEventId;
    if (!eventId || (input.toEventId !== undefined && input.undoEventId !== undefined)) {
      throw new BadRequestException(['exactly one of toEventId, undoEventId is required']);
    }
    const { resourceType, resourceId, organizationId } = input;
    const registered = this.handlerFor(resourceType);
    await this.audit.flush(FLUSH_TIMEOUT_MS);
    const row = await this.events.findEvent(eventId.toLowerCase(), organizationId);
    if (!row || row.resource_type !== resourceType || row.resource_id !== resourceId) {
      throw new NotFoundException(`${field} ${eventId} is not an event of ${resourceType} ${resourceId}`);
    }
    if (!['create', 'update', 'delete', 'revert'].includes(row.action) || (!row.before && !row.after)) {
      throw new ConflictException(
        `${field} ${eventId} is a ${row.action} event without a state of ${resourceType} ${resourceId}`,
      );
    }
    if (field === 'toEventId' && row.action === 'delete') {
      throw new ConflictException(
        `toEventId ${eventId} deleted ${resourceType} ${resourceId}: there is no version to restore`,
      );
    }
    if (field === 'undoEventId' && (row.action === 'create' || row.action === 'delete')) {
      throw new ConflictException(
        `undoEventId ${eventId} is a ${row.action}: only updates (and reverts) can be undone`,
      );
    }
    const later = await this.events.stateEventsAfter(resourceType, resourceId, organizationId, {
      occurredAt: row.occurred_at_text,
      id: row.id,
    });
    if (later.length > MAX_EVENTS_SINCE) throw tooManyEvents(resourceType, resourceId);
    const [event, ...since] = await this.reveal([row, ...later]);
    const current = this.currentState(resourceType, resourceId, event, since);
    if (isTruncated(event.after)) throw truncated(resourceType, resourceId, event.id);
    const fields = registered.fields;
    const planned: PlannedFields =
      field === 'toEventId'
        ? planRestore(current, event.after, fields, redactedPaths(since))
        : planUndo(current, undoFields([event]), fields);
    const revertsEventIds = field === 'toEventId' ? since.map((e) => e.id) : [event.id];
    return {
      registered,
      plan: { resourceType, resourceId, ...planned, currentState: current, revertsEventIds },
    };
  }

  private async planRequest(
    input: RevertRequestInput,
  ): Promise<{ planned: Planned[]; skipped: RevertSkippedResource[] }> {
    const { revertRequestId, organizationId } = input;
    await this.audit.flush(FLUSH_TIMEOUT_MS);
    const rows = await this.events.stateEventsOfRequest(revertRequestId, organizationId);
    if (rows.length === 0) throw new NotFoundException(`No mutation of request ${revertRequestId} found`);
    if (rows.length > MAX_EVENTS_SINCE) {
      throw new ConflictException(
        `Request ${revertRequestId} made more than ${MAX_EVENTS_SINCE} changes: revert its resources one by one`,
      );
    }
    const groups = new Map<string, RevertEventRow[]>();
    for (const row of rows) {
      const key = JSON.stringify([row.resource_type, row.resource_id]);
      groups.set(key, [...(groups.get(key) ?? []), row]);
    }
    const planned: Array<Planned & { last: string }> = [];
    const skipped: RevertSkippedResource[] = [];
    for (const group of groups.values()) {
      const resourceType = group[0].resource_type!;
      const resourceId = group[0].resource_id!;
      const eventIds = group.map((row) => row.id);
      const skip = (why: RevertSkippedResource['why']) =>
        skipped.push({ resourceType, resourceId, why, eventIds });
      const structural = group.find((row) => row.action === 'create' || row.action === 'delete');
      if (structural) {
        skip(structural.action as 'create' | 'delete');
        continue;
      }
      const registered = this.handlers.get(resourceType);
      if (!registered) {
        skip('no-handler');
        continue;
      }
      const last = group[group.length - 1];
      const later = await this.events.stateEventsAfter(resourceType, resourceId, organizationId, {
        occurredAt: last.occurred_at_text,
        id: last.id,
      });
      if (later.length > MAX_EVENTS_SINCE) throw tooManyEvents(resourceType, resourceId);
      const revealed = await this.reveal([...group, ...later]);
      const mine = revealed.slice(0, group.length);
      const since = revealed.slice(group.length);
      if (foldStates(mine[mine.length - 1].after, since) === null) {
        skip('delete');
        continue;
      }
      const current = this.currentState(resourceType, resourceId, mine[mine.length - 1], since);
      const fields = planUndo(current, undoFields(mine), registered.fields);
      planned.push({
        registered,
        last: last.occurred_at_text + last.id,
        plan: { resourceType, resourceId, ...fields, currentState: current, revertsEventIds: eventIds },
      });
    }
    // Newest change first: the reverse of the order the request made them.
    planned.sort((a, b) => (a.last < b.last ? 1 : a.last > b.last ? -1 : 0));
    return { planned: planned.map(({ plan, registered }) => ({ plan, registered })), skipped };
  }

  /** The record now, as the trail knows it: the event's after state and every state event since. */
  private currentState(
    resourceType: string,
    resourceId: string,
    event: StateEvent,
    since: StateEvent[],
  ): JsonValue {
    const current = foldStates(event.after, since);
    if (current === null) {
      const deletion = [event, ...since].reverse().find((e) => e.action === 'delete');
      throw new ConflictException(
        `${resourceType} ${resourceId} was deleted${deletion ? ` (event ${deletion.id})` : ''}: restoring a deleted record is not supported`,
      );
    }
    if (isTruncated(current)) throw truncated(resourceType, resourceId, since.at(-1)?.id ?? event.id);
    return current;
  }

  private async reveal(rows: RevertEventRow[]): Promise<StateEvent[]> {
    const events = rows.map((row) => ({
      id: row.id,
      action: row.action,
      ip: null,
      metadata: null,
      before: row.before,
      after: row.after,
      changes: row.changes,
    }));
    return (await this.personal.reveal(events)).map((e) => ({
      id: e.id,
      action: e.action,
      before: (e.before ?? null) as JsonValue | null,
      after: (e.after ?? null) as JsonValue | null,
      changes: Array.isArray(e.changes) ? (e.changes as FieldChange[]) : null,
    }));
  }

  /**
   * Calls the handler, then records the `revert` event (before = the current state, after = it with the
   * handler's result over it). A refusal is recorded as a failed `revert` and answered 422 with the handler's
   * message (an HttpException's; any other error is a 500 without its message).
   */
  private async execute(
    caller: Caller,
    plan: RevertPlan,
    registered: RegisteredRevertHandler,
    link: Record<string, string | null>,
    alreadyReverted: string[] = [],
  ): Promise<{ eventId: string | null; result: unknown }> {
    const { resourceType, resourceId } = plan;
    const actor = { id: caller.actor.id, type: caller.actor.type ?? ('user' as const) };
    const request: AuditRevertRequest = {
      resourceType,
      resourceId,
      organizationId: caller.organizationId,
      actor,
      reason: caller.reason,
      currentState: plan.currentState,
      targetState: plan.targetState,
      changes: plan.changes,
      revertsEventIds: plan.revertsEventIds,
      requestId: caller.requestId,
    };
    const event = {
      action: 'revert',
      eventType: `${resourceType}.revert`,
      actor: { ...actor, organizationId: caller.organizationId },
      resourceType,
      resourceId,
      requestId: caller.requestId,
      userAgent: caller.userAgent,
      metadata: { reverts: plan.revertsEventIds, ...link },
      reason: caller.reason, // metadata.reason
    };
    let result: unknown;
    try {
      result = await registered.handler.revert(request);
    } catch (error) {
      const refused = error instanceof HttpException && error.getStatus() < 500;
      const message = refused ? httpMessage(error) : 'the revert handler failed';
      if (!refused)
        this.logger.error(
          `Revert handler of ${resourceType} failed: ${(error as Error)?.name ?? typeof error}`,
        );
      await this.audit.recordDurable({
        ...event,
        status: 'failure',
        severity: 'warning',
        errorMessage: message,
      });
      const done = alreadyReverted.length ? ` (already reverted: ${alreadyReverted.join(', ')})` : '';
      const text = `${resourceType} ${resourceId}: the revert was refused: ${message}${done}`;
      throw refused ? new UnprocessableEntityException(text) : new InternalServerErrorException(text);
    }
    const current = plan.currentState;
    const after =
      result === undefined || result === null
        ? plan.targetState
        : isPlainObject(result) && isPlainObject(current)
          ? { ...current, ...definedFields(result) }
          : result;
    const recorded = await this.audit.recordDurable({ ...event, severity: 'notice', before: current, after });
    if (!recorded)
      this.logger.warn(`The revert of ${resourceType} ${resourceId} was made but its event was dropped`);
    return { eventId: recorded?.id ?? null, result };
  }

  private recordPreview(caller: Caller, resourceId: string, metadata: Record<string, unknown>): void {
    this.audit.record({
      action: 'read',
      eventType: 'audit-revert.preview',
      actor: {
        id: caller.actor.id,
        type: caller.actor.type ?? 'user',
        organizationId: caller.organizationId,
      },
      resourceType: 'audit-revert',
      resourceId,
      requestId: caller.requestId,
      userAgent: caller.userAgent,
      metadata,
      reason: caller.reason,
    });
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Secrets changed by these events: the trail knows they changed, never their values. */
function redactedPaths(events: StateEvent[]): string[] {
  return events.flatMap((e) => (e.changes ?? []).filter((c) => c.redacted === true).map((c) => c.path));
}

/** The fields of a handler's result that it reports (a DTO-shaped result may declare others as undefined). */
function definedFields(result: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(result).filter(([, value]) => value !== undefined));
}
