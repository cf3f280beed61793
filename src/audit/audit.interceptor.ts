import {
  CallHandler,
  ExecutionContext,
  HttpException,
  Inject,
  Injectable,
  Logger,
  NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { from, Observable, Subscriber, switchMap, throwError } from 'rxjs';
import { AUDIT_OPTIONS, AUDITED_KEY } from './audit.constants';
import { buildAuditEvent, EventDraft } from './audit-event.factory';
import { ResolvedAuditOptions } from './audit-options';
import { AuditTarget, AuditTargetResolver } from './audit-target.resolver';
import { AuditDelivery } from './audit-delivery.service';
import { HandlerStateWatch } from './handler-state/handler-state.watch';
import { actorFromUser, clientIp, compileTrust } from './request-context';
import { requestReason } from './reason';
import { AuditAction, AuditedOptions, AuditStatus } from './audit.types';
import { transactionalCapture } from './transactional/audit-context';
import { walCapture, walContextOf } from './wal/wal-context';
import {
  errorMessage,
  idOf,
  listItems,
  NO_STATES,
  Outcome,
  outcome,
  RequestStates,
  transactionalOutcome,
  unavailable,
} from './request-outcome';

type AuditedRequest = Request & { requestId?: string; user?: unknown };

const ACTIONS: Record<string, AuditAction | undefined> = {
  POST: 'create',
  PUT: 'update',
  PATCH: 'update',
  DELETE: 'delete',
};
const HTTP_CODE_METADATA = '__httpCode__';

/**
 * The global interceptor behind `@Audited()`. For a mutation it loads the before state first (with
 * `beforeState: 'handler'` no query, the state comes from the handler's own load), lets the handler run, then
 * builds the event and hands it to the delivery: in memory mode the buffer takes it at once; in redis mode
 * (and for critical events) the response waits until the event is durable. An update of an entity-backed
 * resource takes its after state from the row its save() committed (one primary-key read inside that
 * transaction: CommittedStateWatch). Errors are recorded and re-thrown unchanged; after a failed mutation the
 * row is read again, so a change committed before the error is recorded with it.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  private readonly logger = new Logger(AuditInterceptor.name);
  private readonly trust: ((addr: string, i: number) => boolean) | null;

  constructor(
    private readonly reflector: Reflector,
    private readonly targets: AuditTargetResolver,
    private readonly delivery: AuditDelivery,
    private readonly handlerStates: HandlerStateWatch,
    @Inject(AUDIT_OPTIONS) private readonly options: ResolvedAuditOptions,
  ) {
    this.trust = compileTrust(options.trustedProxies);
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!this.options.enabled || context.getType() !== 'http') return next.handle();
    const handler = context.getHandler();
    const controller = context.getClass();
    const onHandler = this.reflector.get<AuditedOptions | false | undefined>(AUDITED_KEY, handler);
    const onClass = this.reflector.get<AuditedOptions | undefined>(AUDITED_KEY, controller);
    if (onHandler === false || (!onHandler && !onClass)) return next.handle();

    const target = this.targets.resolve(controller, handler, { ...onClass, ...onHandler });
    const request = context.switchToHttp().getRequest<AuditedRequest>();
    const method = request.method;
    const isRead = method === 'GET';
    if ((isRead && target.options.reads === false) || (!isRead && !ACTIONS[method])) return next.handle();

    const started = performance.now();
    const param = request.params?.[target.idParam];
    const resourceId = Array.isArray(param) ? param.join('/') : param;
    const action = target.options.action ?? (isRead ? (resourceId ? 'read' : 'list') : ACTIONS[method]!);
    const actor = actorFromUser(request.user);
    request.requestId ??= randomUUID();
    // A mutation's reason (metadata.reason), checked before anything runs: a refused one (too long, missing
    // when required) fails the request with a 400 recorded like a validation error's, and the handler never runs.
    let reason: string | null = null;
    let refusal: unknown = null;
    if (!isRead) {
      try {
        reason = requestReason(request, target.options.reason);
      } catch (error) {
        refusal = error;
      }
    }
    // Every draft is built by this one literal, whatever the outcome: one object shape for the event
    // factory's property reads (drafts of varying shapes made them polymorphic).
    const draft = (outcome: Outcome): EventDraft => ({
      action,
      eventType: target.options.eventType,
      actor,
      resourceType: target.resourceType,
      resourceId: resourceId ?? outcome.resourceId ?? null,
      before: outcome.before,
      after: outcome.after,
      diff: outcome.diff,
      partialAfter: outcome.partialAfter,
      recordNoOps: outcome.recordNoOps,
      status: outcome.status,
      statusCode: outcome.statusCode,
      errorMessage: outcome.errorMessage,
      severity: outcome.severity,
      requestId: request.requestId,
      ip: clientIp(request, this.trust),
      userAgent: request.headers['user-agent'] ?? null,
      route: (request.route as { path?: string } | undefined)?.path ?? request.path,
      method,
      durationMs: performance.now() - started,
      metadata: reason === null ? outcome.metadata : { ...outcome.metadata, reason },
      occurredAt: undefined,
      rules: target.rules,
      ignoredFields: target.ignoredFields,
    });

    const failOnLoss = target.options.onUndelivered === 'fail';
    if (failOnLoss && !this.delivery.hasRoom()) {
      // Checked before the handler: a change that could not be audited is not made at all.
      throw unavailable();
    }
    // Where the success is recorded elsewhere (or nothing runs), only a failure is recorded here.
    const failuresOnly = (handle: CallHandler) => (subscriber: Subscriber<unknown>) =>
      this.recorded(handle, subscriber, {
        onValue: () => true,
        onError: (error) => this.capture(() => draft(this.failure(target, error))),
        failOnLoss,
      });
    if (refusal) return new Observable(failuresOnly({ handle: () => throwError(() => refusal) }));

    if (target.options.consistency === 'transactional' && !isRead) {
      // Successful writes are recorded by AuditEntitySubscriber inside their transaction.
      const statusCode = this.successStatus(handler, method, context);
      const capture = {
        target,
        base: () => draft(transactionalOutcome(statusCode)),
        before: new Map(),
        captured: 0,
      };
      return new Observable((s) => transactionalCapture.run(capture, () => failuresOnly(next)(s)));
    }

    if (target.options.consistency === 'wal' && !isRead) {
      // The row changes come from the WAL with this context (AuditWalModule).
      const wal = walContextOf(draft(transactionalOutcome(0)), target.options);
      return new Observable((s) => walCapture.run(wal, () => failuresOnly(next)(s)));
    }

    // The states' slots are opened when the handler is subscribed to, and released with it.
    const record = (open: () => RequestStates): Observable<unknown> =>
      new Observable((subscriber) => {
        const states = open();
        const unsubscribe = this.recorded(next, subscriber, {
          onValue: (result) =>
            this.capture(() =>
              draft(
                this.success(
                  action,
                  target,
                  states.before(),
                  states.after(result),
                  this.successStatus(handler, method, context),
                ),
              ),
            ),
          onError: (error) =>
            this.captureFailure(draft, target, error, states, resourceId, actor.organizationId),
          failOnLoss,
        });
        return () => (unsubscribe(), states.release());
      });

    const mutatesRow = (action === 'update' || action === 'delete') && resourceId;
    if (!mutatesRow || !target.loadState) return record(() => NO_STATES);
    const organizationId = actor.organizationId;
    if (target.beforeFromHandler) {
      return record(() => {
        const slot = this.handlerStates.watch(target.entity!, resourceId, organizationId);
        const after = this.watchCommitted(target, action, resourceId, organizationId);
        return {
          before: () => slot.state,
          after: after.after,
          release: () => (this.handlerStates.release(target.entity!, slot), after.release()),
        };
      });
    }
    return from(this.loadBefore(target, resourceId, organizationId)).pipe(
      switchMap((before) =>
        record(() => ({
          ...this.watchCommitted(target, action, resourceId, organizationId),
          before: () => before,
        })),
      ),
    );
  }

  /**
   * The after state of an update of an entity-backed resource: the handler's result, its column fields as its
   * own save() committed them (see CommittedStateWatch), else the result as it is.
   */
  private watchCommitted(
    target: AuditTarget,
    action: AuditAction,
    resourceId: string,
    organizationId: string | null,
  ): Pick<RequestStates, 'after' | 'release'> {
    const entity = target.entity;
    if (action !== 'update' || !entity || entity.primaryColumns.length !== 1) return NO_STATES;
    const committed = this.handlerStates.committed;
    const slot = committed.watch(entity, resourceId, organizationId);
    return {
      after: (result) => committed.afterOf(slot, result) ?? result,
      release: () => committed.release(entity, slot),
    };
  }

  /**
   * A handler's error, recorded as a failure. A handler may commit its change and then throw (a call after
   * the save failed): when the mutation had a before state, the row is read again with the same loader, and
   * a row that changed (or is gone) is recorded on the failure event with its before, after and diff, so a
   * committed change is never missing from the trail. That read makes the error response wait for one
   * primary-key query.
   */
  private captureFailure(
    draft: (outcome: Outcome) => EventDraft,
    target: AuditTarget,
    error: unknown,
    states: RequestStates,
    resourceId: string | undefined,
    organizationId: string | null,
  ): boolean | Promise<boolean> {
    const failure = this.failure(target, error);
    const before = states.before();
    if (before === undefined || before === null || !resourceId || !target.loadState) {
      return this.capture(() => draft(failure));
    }
    return target.loadState(resourceId, organizationId).then(
      (after) => {
        if (after === undefined || after === null) {
          // The row is gone: the handler deleted it before it failed.
          return this.capture(() => draft({ ...failure, before }));
        }
        // The event factory diffs successes only; this failure is diffed like one, and kept only if it changed
        // something (an unchanged row is the usual failure: nothing committed).
        const changed = this.capture(
          () => ({
            ...draft({ ...failure, before, after, diff: true }),
            status: 'success',
            recordNoOps: false,
          }),
          'failure',
        );
        return changed ?? this.capture(() => draft(failure));
      },
      (readError: Error) => {
        this.logger.warn(
          `State of ${target.resourceType} ${resourceId} after a failure not read: ${readError.message}`,
        );
        return this.capture(() => draft(failure));
      },
    );
  }

  /**
   * Runs the handler into `subscriber`, recording each value it emits (and its error), and passes them on
   * once the event is accepted: at once when the delivery answered synchronously (the memory buffer), in
   * order after the promise when it makes the event durable first. A lost event fails the request with 503
   * when the route asks for it (`failOnLoss`), and that 503 is recorded as a failure like any other error.
   * One subscriber per request instead of an operator chain (concatMap, catchError, of, finalize): their
   * per-request subscribers cost measurable throughput on the request path.
   */
  private recorded(
    next: CallHandler,
    subscriber: Subscriber<unknown>,
    recording: {
      onValue: (result: unknown) => boolean | Promise<boolean>;
      onError: (error: unknown) => boolean | Promise<boolean>;
      failOnLoss: boolean;
    },
  ): () => void {
    // Deliveries waiting on a durable acceptance, so values, errors and completion keep their order.
    let queue: Promise<void> | null = null;
    const then = (accepted: boolean | Promise<boolean>, act: (ok: boolean) => void): void => {
      if (queue === null && typeof accepted === 'boolean') return act(accepted);
      queue = (queue ?? Promise.resolve()).then(() => accepted).then(act);
    };
    const lost = (ok: boolean) => !ok && recording.failOnLoss;
    const fail = (error: unknown) =>
      then(recording.onError(error), (ok) => subscriber.error(lost(ok) ? unavailable() : error));
    const subscription = next.handle().subscribe({
      next: (result) =>
        then(recording.onValue(result), (ok) => (lost(ok) ? fail(unavailable()) : subscriber.next(result))),
      error: fail,
      complete: () => then(true, () => subscriber.complete()),
    });
    return () => subscription.unsubscribe();
  }

  private success(
    action: AuditAction,
    target: AuditTarget,
    before: unknown,
    result: unknown,
    statusCode: number,
  ): Outcome {
    const severity = target.options.severity ?? 'info';
    const recordNoOps = target.options.recordNoOps;
    switch (action) {
      case 'read':
        return outcome('success', statusCode, severity, { recordNoOps });
      case 'list': {
        const items = listItems(result);
        const metadata = items && {
          count: items.length,
          ids: items.slice(0, this.options.maxListIds).map((item) => idOf(item, target.responseIdPath)),
          idsTruncated: items.length > this.options.maxListIds,
        };
        return outcome('success', statusCode, severity, { recordNoOps, metadata });
      }
      case 'create':
        return outcome('success', statusCode, severity, {
          recordNoOps,
          after: result,
          resourceId: idOf(result, target.responseIdPath),
        });
      case 'delete':
        return outcome('success', statusCode, severity, { recordNoOps, before });
      default:
        return outcome('success', statusCode, severity, {
          recordNoOps,
          before,
          after: result,
          diff: before !== undefined && result !== undefined,
          partialAfter: true,
        });
    }
  }

  /** The status Nest will send for a successful result: `@HttpCode()`, else 201 for POST, else 200. */
  private successStatus(handler: object, method: string, context: ExecutionContext): number {
    const declared = this.reflector.get<number | undefined>(HTTP_CODE_METADATA, handler as never);
    if (declared) return declared;
    return method === 'POST' ? 201 : context.switchToHttp().getResponse<Response>().statusCode || 200;
  }

  private failure(target: AuditTarget, error: unknown): Outcome {
    const statusCode = error instanceof HttpException ? error.getStatus() : 500;
    const severity = target.options.severity ?? (statusCode >= 500 ? 'warning' : 'info');
    return outcome('failure', statusCode, severity, { errorMessage: errorMessage(error) });
  }

  /** The before state; a failed load never fails the request, it is noted on the event instead. */
  private async loadBefore(target: AuditTarget, id: string, organizationId: string | null): Promise<unknown> {
    try {
      return await target.loadState!(id, organizationId);
    } catch (error) {
      this.logger.warn(
        `Before state of ${target.resourceType} ${id} not loaded: ${(error as Error).message}`,
      );
      return undefined;
    }
  }

  /**
   * Capture must never break the request: a bug here is logged, never thrown at the client. Returns
   * whether the delivery accepted the event (a promise when it makes it durable first). With `status`, the
   * built event takes that status (a failure built as a success to be diffed), and a draft that records
   * nothing (a no-op) returns null instead of true.
   */
  private capture(build: () => EventDraft): boolean | Promise<boolean>;
  private capture(build: () => EventDraft, status: AuditStatus): boolean | Promise<boolean> | null;
  private capture(build: () => EventDraft, status?: AuditStatus): boolean | Promise<boolean> | null {
    try {
      const event = buildAuditEvent(build(), this.options.maxStateBytes);
      if (!event) return status ? null : true; // nothing to record (a no-op update)
      const accepted = this.delivery.submit(status ? { ...event, status } : event);
      return typeof accepted === 'boolean' ? accepted : accepted.catch(() => this.captureFailed());
    } catch (error) {
      return this.captureFailed(error);
    }
  }

  private captureFailed(error?: unknown): boolean {
    this.logger.error(`Audit capture failed: ${(error as Error | undefined)?.message ?? 'unknown error'}`);
    return false;
  }
}
