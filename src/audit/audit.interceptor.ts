import {
  CallHandler,
  ExecutionContext,
  HttpException,
  Inject,
  Injectable,
  Logger,
  NestInterceptor,
  ServiceUnavailableException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { from, Observable, Subscriber, switchMap } from 'rxjs';
import { AUDIT_OPTIONS, AUDITED_KEY } from './audit.constants';
import { buildAuditEvent, EventDraft } from './audit-event.factory';
import { ResolvedAuditOptions } from './audit-options';
import { AuditTarget, AuditTargetResolver } from './audit-target.resolver';
import { AuditDelivery } from './audit-delivery.service';
import { HandlerStateWatch } from './handler-state/handler-state.watch';
import { actorFromUser, clientIp, compileTrust } from './request-context';
import { AuditAction, AuditedOptions, AuditSeverity, AuditStatus } from './audit.types';
import { transactionalCapture } from './transactional/audit-context';

type AuditedRequest = Request & { requestId?: string; user?: unknown };

const ACTIONS: Record<string, AuditAction | undefined> = {
  POST: 'create',
  PUT: 'update',
  PATCH: 'update',
  DELETE: 'delete',
};
const HTTP_CODE_METADATA = '__httpCode__';

/**
 * The global interceptor behind `@Audited()`. For a mutation it loads the before state first (the only
 * database work on the request path; with `beforeState: 'handler'` none, the state comes from the handler's
 * own load), lets the handler run, then builds the event and hands it to the delivery: in memory mode the
 * buffer takes it at once; in redis mode (and for critical events) the response waits until the event is
 * durable. Errors are recorded and re-thrown unchanged.
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
      metadata: outcome.metadata,
      occurredAt: undefined,
      rules: target.rules,
    });

    const failOnLoss = target.options.onUndelivered === 'fail';
    if (failOnLoss && !this.delivery.hasRoom()) {
      // Checked before the handler: a change that could not be audited is not made at all.
      throw unavailable();
    }
    const captureFailure = (error: unknown) => this.capture(() => draft(this.failure(target, error)));

    if (target.options.consistency === 'transactional' && !isRead) {
      // Successful writes are recorded by AuditEntitySubscriber inside their transaction; failures here.
      const statusCode = this.successStatus(handler, method, context);
      const capture = {
        target,
        base: () => draft(transactionalOutcome(statusCode)),
        before: new Map(),
        captured: 0,
      };
      return new Observable((subscriber) =>
        transactionalCapture.run(capture, () =>
          this.recorded(next, subscriber, { onValue: () => true, onError: captureFailure, failOnLoss }),
        ),
      );
    }

    const record = (before: () => unknown, release?: () => void): Observable<unknown> =>
      new Observable((subscriber) => {
        const unsubscribe = this.recorded(next, subscriber, {
          onValue: (result) =>
            this.capture(() =>
              draft(
                this.success(action, target, before(), result, this.successStatus(handler, method, context)),
              ),
            ),
          onError: captureFailure,
          failOnLoss,
        });
        return release ? () => (unsubscribe(), release()) : unsubscribe;
      });

    const needsBefore = (action === 'update' || action === 'delete') && resourceId && target.loadState;
    if (!needsBefore) return record(() => undefined);
    if (target.beforeFromHandler) {
      const slot = this.handlerStates.watch(target.entity!, resourceId, actor.organizationId);
      return record(
        () => slot.state,
        () => this.handlerStates.release(target.entity!, slot),
      );
    }
    return from(this.loadBefore(target, resourceId, actor.organizationId)).pipe(
      switchMap((before) => record(() => before)),
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
   * whether the delivery accepted the event (a promise when it makes it durable first).
   */
  private capture(build: () => EventDraft): boolean | Promise<boolean> {
    try {
      const event = buildAuditEvent(build(), this.options.maxStateBytes);
      if (!event) return true; // nothing to record (a no-op update)
      const accepted = this.delivery.submit(event);
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

/** What the outcome of a request adds to its event's draft (the request's own facts are the rest). */
interface Outcome {
  status: AuditStatus;
  statusCode: number;
  severity: AuditSeverity;
  /** The created resource's id, read from the response (used when the route has none). */
  resourceId: string | null | undefined;
  before: unknown;
  after: unknown;
  diff: boolean;
  partialAfter: boolean;
  recordNoOps: boolean | undefined;
  metadata: Record<string, unknown> | undefined;
  errorMessage: string | undefined;
}

/** An outcome with every field present (one object shape; see the draft literal in `intercept`). */
const outcome = (
  status: AuditStatus,
  statusCode: number,
  severity: AuditSeverity,
  parts: Partial<Omit<Outcome, 'status' | 'statusCode' | 'severity'>>,
): Outcome => ({
  status,
  statusCode,
  severity,
  resourceId: parts.resourceId,
  before: parts.before,
  after: parts.after,
  diff: parts.diff ?? false,
  partialAfter: parts.partialAfter ?? false,
  recordNoOps: parts.recordNoOps,
  metadata: parts.metadata,
  errorMessage: parts.errorMessage,
});

/** The request's part of a transactional write's event: the subscriber adds what the write changed. */
const transactionalOutcome = (statusCode: number): Outcome => outcome('success', statusCode, 'info', {});

const unavailable = () => new ServiceUnavailableException('Audit trail unavailable, try again later');

function listItems(result: unknown): unknown[] | undefined {
  if (Array.isArray(result)) return result;
  if (result && typeof result === 'object') {
    for (const key of ['items', 'data', 'results']) {
      const value = (result as Record<string, unknown>)[key];
      if (Array.isArray(value)) return value;
    }
  }
  return undefined;
}

function idOf(value: unknown, path: string): string | null {
  let current: unknown = value;
  for (const key of path.split('.')) {
    if (!current || typeof current !== 'object') return null;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === 'string' || typeof current === 'number' || typeof current === 'bigint'
    ? String(current)
    : null;
}

function errorMessage(error: unknown): string {
  if (error instanceof HttpException) {
    const body = error.getResponse();
    if (typeof body === 'string') return body;
    const message = (body as { message?: unknown }).message;
    return Array.isArray(message) ? message.join('; ') : String(message ?? error.message);
  }
  return error instanceof Error ? `${error.name}: ${error.message}` : 'Unknown error';
}
