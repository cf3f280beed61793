import type { ModuleMetadata, Type } from '@nestjs/common';
import type { ActorType, FieldChange, JsonValue } from '../audit';

/**
 * What the app's revert handler is asked to do: bring one record from `currentState` to `targetState` by
 * applying `changes`, through the app's own code (its services, validation and business rules).
 */
export interface AuditRevertRequest {
  resourceType: string;
  resourceId: string;
  /** The tenant the record belongs to (the caller's organization). */
  organizationId: string | null;
  /** Who asked for the revert (the admin caller, or what app code passed). */
  actor: { id: string | null; type: ActorType };
  reason?: string;
  /** The record as the trail knows it now (personal values decrypted; secrets read `[REDACTED]`). */
  currentState: JsonValue | null;
  /** `currentState` with `changes` applied: the record as it will be. Never write it whole: apply `changes`. */
  targetState: JsonValue;
  /** Only restorable fields, `before` = current value, `after` = the value to restore. Never empty. */
  changes: FieldChange[];
  /** The events this revert undoes. */
  revertsEventIds: string[];
  /** The request that asked for it (the admin API's request id), when there is one. */
  requestId?: string;
}

/**
 * The hook an app implements, per resource type, so a revert runs through its own code path. Return the
 * record's new state as the app's API returns it (it becomes the `after` state of the `revert` event; fields
 * it leaves out keep their current values there). Throw to refuse (an `HttpException`'s message is passed to
 * the caller; any other error is reported without its message).
 */
export interface AuditRevertHandler {
  revert(request: AuditRevertRequest): Promise<unknown>;
}

/** A handler with the fields it restores (an allow-list of top-level fields; others are skipped). */
export interface AuditRevertHandlerRegistration {
  handler: Type<AuditRevertHandler>;
  /** Top-level fields the handler may restore (`['name', 'plan', 'email']`). Default: every restorable field. */
  fields?: string[];
}

/** `AuditAdminModule.forRoot({ revert })` and `AuditRevertModule.forRoot()`. */
export interface AuditRevertOptions {
  /** Modules whose exported providers the handlers inject (the app's feature modules). */
  imports?: ModuleMetadata['imports'];
  /** Per resource type (as recorded on events, e.g. `account`): the handler class, or it with its fields. */
  handlers?: Record<string, Type<AuditRevertHandler> | AuditRevertHandlerRegistration>;
}

/** Why a field (or a whole resource of a request) is not restored. */
export type RevertSkipReason =
  /** A secret: the trail never stored its value. */
  | 'redacted'
  /** Personal data whose subject was erased. */
  | 'erased'
  /** Personal data this configuration cannot decrypt. */
  | 'encrypted'
  /** A value the trail did not store whole (a large binary, a circular reference, a truncated state). */
  | 'not-stored'
  /** Not in the handler's `fields`. */
  | 'read-only'
  /** The field is not in the target state (it appeared later): removing fields is not a revert. */
  | 'absent-in-target'
  /** Undo: a later event changed the field again; restoring it would undo that change too. */
  | 'changed-since'
  /** Request undo: the request created or deleted the resource (only updates are undone). */
  | 'create'
  | 'delete'
  /** Request undo: no handler is registered for the resource type. */
  | 'no-handler';

export interface RevertSkippedField {
  path: string;
  why: RevertSkipReason;
}

/** Which version to go back to: exactly one of the two. */
export interface RevertTarget {
  /** Restore the record as this event left it (its `after`). */
  toEventId?: string;
  /** Undo this one event: the fields it changed go back to its `before`. */
  undoEventId?: string;
}

/** Input of `AuditRevertService.preview()` / `revert()`. */
export interface RevertResourceInput extends RevertTarget {
  resourceType: string;
  resourceId: string;
  /** Tenant scope: events of another organization are "not found". */
  organizationId: string | null;
  actor: { id: string | null; type?: ActorType };
  reason?: string;
  /** Request id recorded on the `revert` event (the admin API passes its own). */
  requestId?: string;
  userAgent?: string;
}

/** Input of `AuditRevertService.previewRequest()` / `revertRequest()`: undo every update of one request. */
export interface RevertRequestInput {
  /** The request whose mutations are undone. */
  revertRequestId: string;
  organizationId: string | null;
  actor: { id: string | null; type?: ActorType };
  reason?: string;
  requestId?: string;
  userAgent?: string;
}

/** What a revert of one resource does (the dry run's answer). */
export interface RevertPlan {
  resourceType: string;
  resourceId: string;
  /** Current -> target, restorable fields only: what the handler is asked to apply. */
  changes: FieldChange[];
  /** Fields that differ but are not restored, and why. */
  skipped: RevertSkippedField[];
  currentState: JsonValue | null;
  targetState: JsonValue;
  revertsEventIds: string[];
}

export interface RevertPreview extends RevertPlan {
  dryRun: true;
}

export interface RevertResult extends RevertPlan {
  dryRun: false;
  /** The `revert` event recorded (one). */
  revertEventIds: string[];
  /** What the handler returned: the record's new state as the app's API returns it. */
  result: unknown;
}

/** A resource of the request that is not undone at all. */
export interface RevertSkippedResource {
  resourceType: string;
  resourceId: string;
  why: RevertSkipReason;
  eventIds: string[];
}

export interface RequestRevertPreview {
  dryRun: true;
  requestId: string;
  /** One plan per resource the request updated, newest change first (the order they are reverted in). */
  resources: RevertPlan[];
  skipped: RevertSkippedResource[];
}

export interface RequestRevertResult {
  dryRun: false;
  requestId: string;
  /** Resources with nothing restorable are listed with `revertEventId: null` (no handler call). */
  resources: Array<RevertPlan & { revertEventId: string | null; result: unknown }>;
  skipped: RevertSkippedResource[];
  revertEventIds: string[];
}
