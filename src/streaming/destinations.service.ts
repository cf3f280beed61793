import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  Inject,
  Injectable,
  NotFoundException,
  OnApplicationShutdown,
  Optional,
  UnprocessableEntityException,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { AUDIT_OPTIONS, parseKek } from '../audit';
import type { ResolvedAuditOptions } from '../audit';
import { AuthUser, ROLES } from '../common/auth/auth.types';
import { DestinationBacklog, DestinationRow, DestinationsRepository } from './destinations.repository';
import { DestinationInput, internalHosts, validateDestination } from './destination-policy';
import { formatEvents } from './formats';
import { openSecret, sealSecret } from './secret-box';
import { SINK_KINDS } from './sinks';
import {
  AUDIT_STREAMING_OPTIONS,
  AuditStreamingOptions,
  ResolvedStreamingOptions,
  StreamingConfigError,
  streamingOptionsProblems,
} from './streaming-options';
import { AUDIT_STREAMING_POOL } from './streaming.tokens';
import { DeliveryError, DestinationSpec } from './streaming.types';

const DEFAULTS = { pollIntervalMs: 1000, minMs: 500, maxMs: 30_000, readyMaxLagMs: 5 * 60_000 };

export function resolveStreamingOptions(
  options: AuditStreamingOptions | undefined,
  audit: ResolvedAuditOptions | undefined,
): ResolvedStreamingOptions {
  const problems: string[] = [];
  let secretKey: Buffer | null = audit?.personalData?.encryptionKey ?? null;
  if (options?.secretKey !== undefined) {
    try {
      secretKey = Buffer.isBuffer(options.secretKey) ? options.secretKey : parseKek(options.secretKey);
      if (secretKey.length !== 32) throw new Error('must be 32 bytes');
    } catch (error) {
      problems.push(`streaming.secretKey ${(error as Error).message}`);
    }
  }
  problems.push(...streamingOptionsProblems(options ?? {}));
  const poll = options?.pollIntervalMs ?? DEFAULTS.pollIntervalMs;
  const retry = {
    minMs: options?.retry?.minMs ?? DEFAULTS.minMs,
    maxMs: options?.retry?.maxMs ?? DEFAULTS.maxMs,
  };
  const destinations = options?.destinations ?? [];
  if (problems.length) throw new StreamingConfigError(problems);
  return {
    run: options?.run ?? true,
    destinations,
    pollIntervalMs: poll,
    retry,
    readyMaxLagMs: options?.readyMaxLagMs ?? DEFAULTS.readyMaxLagMs,
    allowPrivateNetworks: options?.allowPrivateNetworks ?? false,
    secretKey,
  };
}

/** A destination as the admin API shows it: never its secret, only which secret fields are set. */
export interface DestinationView {
  id: string;
  name: string;
  organizationId: string | null;
  kind: string;
  format: string;
  settings: Record<string, unknown>;
  secretFields: string[];
  personalData: string;
  startFrom: string;
  batchSize: number;
  source: string;
  createdBy: string | null;
  createdAt: string;
  status: {
    state: string;
    reason: string | null;
    lagSeconds: number;
    pendingEvents: number;
    deliveredEvents: number;
    failedAttempts: number;
    deadLetters: number;
    lastSuccessAt: string | null;
    lastError: string | null;
    lastErrorAt: string | null;
  };
}

/**
 * Destinations: validation, access (an organization's admin manages its own; a platform operator every one,
 * including those for every organization), secrets sealed at rest, status, test sends and replays. The
 * delivery itself is the streamer's (AuditStreamingModule), in whichever processes run it.
 */
@Injectable()
export class DestinationsService implements OnApplicationShutdown {
  readonly options: ResolvedStreamingOptions;
  readonly repository: DestinationsRepository;

  constructor(
    @Inject(AUDIT_STREAMING_POOL) readonly pool: Pool,
    @Optional() @Inject(AUDIT_OPTIONS) audit?: ResolvedAuditOptions,
    @Optional() @Inject(AUDIT_STREAMING_OPTIONS) options?: AuditStreamingOptions,
  ) {
    this.options = resolveStreamingOptions(options, audit);
    this.repository = new DestinationsRepository(pool);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }

  async list(user: AuthUser): Promise<DestinationView[]> {
    const rows = await this.repository.list(isPlatform(user) ? undefined : ownOrg(user));
    return this.views(rows);
  }

  async get(user: AuthUser, id: string): Promise<DestinationView> {
    const [view] = await this.views([await this.visible(user, id)]);
    return view;
  }

  async create(user: AuthUser, input: DestinationInput): Promise<DestinationView> {
    const organizationId = this.organizationFor(user, input.organizationId);
    const { problems, value } = validateDestination(input);
    if (!value) throw new BadRequestException(problems);
    if (!isPlatform(user) && !this.options.allowPrivateNetworks) {
      const internal = await internalHosts(value.kind, value.settings);
      if (internal.length)
        throw new BadRequestException([
          `settings: ${internal.join(', ')} is an internal address; only a platform operator can add such a destination`,
        ]);
    }
    const id = randomUUID();
    let secret: Buffer | null = null;
    if (Object.keys(value.secret).length > 0) {
      if (!this.options.secretKey)
        throw new UnprocessableEntityException(
          'No key to seal destination secrets: configure streaming.secretKey or the personal-data encryption key',
        );
      secret = sealSecret(this.options.secretKey, id, value.secret);
    }
    const inserted = await this.repository.insert({
      id,
      name: value.name,
      organizationId,
      kind: value.kind,
      format: value.format,
      settings: value.settings,
      secret,
      personalData: value.personalData,
      startFrom: value.startFrom ?? new Date(),
      batchSize: value.batchSize,
      source: 'api',
      createdBy: user.sub,
    });
    if (!inserted) throw new ConflictException(`A destination named ${value.name} already exists`);
    return this.get(user, id);
  }

  async remove(user: AuthUser, id: string): Promise<void> {
    const row = await this.visible(user, id);
    if (row.source === 'config')
      throw new ConflictException(
        'This destination comes from configuration: remove it there (it can be paused here)',
      );
    await this.repository.delete(id);
  }

  async setState(user: AuthUser, id: string, state: 'active' | 'paused'): Promise<DestinationView> {
    await this.visible(user, id);
    await this.repository.setState(id, state, state === 'paused' ? `paused by ${user.sub}` : null);
    return this.get(user, id);
  }

  /** Sends one test event (action `stream.test`, not from the trail) and reports what the receiver said. */
  async testSend(user: AuthUser, id: string) {
    const row = await this.visible(user, id);
    const spec = this.specOf(row);
    const sink = SINK_KINDS[spec.kind].create(spec);
    const now = new Date();
    const event = {
      id: randomUUID(),
      occurredAt: now.toISOString(),
      organizationId: row.organizationId,
      actorId: user.sub,
      actorType: 'user',
      action: 'stream.test',
      eventType: 'stream.test',
      resourceType: 'audit-destination',
      resourceId: row.id,
      before: null,
      after: null,
      changes: null,
      status: 'success',
      statusCode: null,
      errorMessage: null,
      severity: 'info',
      requestId: null,
      reason: 'destination test',
      transactionId: null,
      ip: null,
      userAgent: null,
      route: null,
      method: null,
      durationMs: null,
      metadata: { test: true },
    };
    const started = Date.now();
    try {
      const events = formatEvents(row.format, [{ event, orgKey: row.organizationId ?? '', sealSeq: '0' }]);
      await sink.send({ deliveryId: event.id, events });
      return { ok: true, eventId: event.id, durationMs: Date.now() - started };
    } catch (error) {
      const failure = error instanceof DeliveryError ? error : null;
      return {
        ok: false,
        eventId: event.id,
        durationMs: Date.now() - started,
        failure: failure?.failure ?? 'retry',
        statusCode: failure?.options.statusCode ?? null,
        error: failure ? failure.message : 'send failed',
      };
    } finally {
      await sink.close().catch(() => undefined);
    }
  }

  async deadLetters(user: AuthUser, id: string, limit: number) {
    await this.visible(user, id);
    return (await this.repository.deadLetters(id, limit)).map((letter) => ({
      id: letter.id,
      eventId: letter.eventId,
      occurredAt: letter.occurredAt.toISOString(),
      organizationId: letter.orgKey === '' ? null : letter.orgKey,
      chainSeq: letter.sealSeq,
      error: letter.error,
      statusCode: letter.statusCode,
      createdAt: letter.createdAt.toISOString(),
      replayRequestedAt: letter.replayRequestedAt?.toISOString() ?? null,
    }));
  }

  /** Marks dead letters for the streamer to send again (all, or these ids). */
  async replay(user: AuthUser, id: string, deadLetterIds?: string[]): Promise<{ requested: number }> {
    await this.visible(user, id);
    return { requested: await this.repository.requestReplay(id, deadLetterIds) };
  }

  /** The spec a sink is built from: settings and the secret (opened, or from configuration). */
  specOf(row: DestinationRow): DestinationSpec {
    let secret: Record<string, string> = {};
    if (row.source === 'config') {
      secret =
        this.options.destinations.find(
          (d) => d.name === row.name && (d.organizationId ?? null) === row.organizationId,
        )?.secret ?? {};
    } else if (row.secret) {
      if (!this.options.secretKey) throw new Error(`destination ${row.name}: no key to open its secret`);
      secret = openSecret(this.options.secretKey, row.id, row.secret);
    }
    return { id: row.id, name: row.name, kind: row.kind, format: row.format, settings: row.settings, secret };
  }

  async views(rows: DestinationRow[]): Promise<DestinationView[]> {
    const ids = rows.map((row) => row.id);
    const [backlogs, deadLetters] = await Promise.all([
      this.repository.backlogs(ids),
      this.repository.countDeadLetters(ids),
    ]);
    return rows.map((row) => this.view(row, backlogs.get(row.id), deadLetters.get(row.id) ?? 0));
  }

  private view(
    row: DestinationRow,
    backlog: DestinationBacklog | undefined,
    deadLetters: number,
  ): DestinationView {
    let secretFields: string[];
    try {
      secretFields = Object.keys(this.specOf(row).secret).sort();
    } catch {
      secretFields = ['(sealed with another key)'];
    }
    return {
      id: row.id,
      name: row.name,
      organizationId: row.organizationId,
      kind: row.kind,
      format: row.format,
      settings: row.settings,
      secretFields,
      personalData: row.personalData,
      startFrom: row.startFrom.toISOString(),
      batchSize: row.batchSize,
      source: row.source,
      createdBy: row.createdBy,
      createdAt: row.createdAt.toISOString(),
      status: {
        state: row.state,
        reason: row.stateReason,
        lagSeconds: lagSeconds(backlog),
        pendingEvents: backlog?.pendingEvents ?? 0,
        deliveredEvents: Number(row.deliveredEvents),
        failedAttempts: Number(row.failedAttempts),
        deadLetters,
        lastSuccessAt: row.lastSuccessAt?.toISOString() ?? null,
        lastError: row.lastError,
        lastErrorAt: row.lastErrorAt?.toISOString() ?? null,
      },
    };
  }

  /** The destination when the caller may manage it; 404 otherwise (another organization's is not revealed). */
  private async visible(user: AuthUser, id: string): Promise<DestinationRow> {
    const row = await this.repository.find(id);
    if (!row || (!isPlatform(user) && row.organizationId !== ownOrg(user)))
      throw new NotFoundException('No such destination');
    return row;
  }

  private organizationFor(user: AuthUser, requested: unknown): string | null {
    if (requested !== undefined && requested !== null && typeof requested !== 'string')
      throw new BadRequestException(['organizationId must be a string']);
    if (isPlatform(user)) return (requested as string | null | undefined) ?? null;
    const org = ownOrg(user);
    if (requested !== undefined && requested !== org)
      throw new ForbiddenException(
        'Only a platform operator (audit:platform) can add destinations for other organizations',
      );
    return org;
  }
}

export function lagSeconds(backlog: DestinationBacklog | undefined, now = Date.now()): number {
  if (!backlog?.oldestPendingAt) return 0;
  return Math.max(0, Math.round((now - backlog.oldestPendingAt.getTime()) / 100) / 10);
}

const isPlatform = (user: AuthUser) => user.roles.includes(ROLES.platform);

function ownOrg(user: AuthUser): string {
  if (!user.org) throw new ForbiddenException('Token has no organization (org claim)');
  return user.org;
}
