import { buildAuditEvent } from '../../src/audit/audit-event.factory';
import { resolveAuditOptions } from '../../src/audit/audit-options';
import { AuditEvent, AuditSeverity } from '../../src/audit/audit.types';
import { RedactionRules } from '../../src/audit/redaction';
import { hex, pick, prng, Random, uuid } from './events';
import {
  RESOURCE_TYPES,
  resourceState,
  ROLES,
  sample,
  TYPE_WEIGHTS,
  updatedResourceState,
  Vocabulary,
  zipf,
} from './resource-states';

export { RESOURCE_TYPES };

const SERVICES = ['svc-billing', 'svc-scim', 'svc-reporting', 'svc-retention'];
const USER_AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0',
  'acme-cli/3.2.0 node/20.20.2',
];

export interface HistoryShape {
  events: number;
  organizations: number;
  /** User actors, spread over the organizations by size; a few service actors come on top. */
  actors: number;
  resources: number;
  from: Date;
  to: Date;
  seed?: number;
}

export interface HistoryResource {
  type: string;
  id: string;
  seed: number;
}

export interface HistoryOrganization {
  id: string;
  /** Share of all events. */
  share: number;
  actors: string[];
  resources: HistoryResource[];
}

/**
 * A year (or any span) of a multi-tenant audit trail: organizations of Zipf-distributed size, each with its
 * own users and resources (a few of them hot), a realistic mix of actions, HTTP context, failures, and
 * before/after states whose text is searchable. Events are built by the real factory (redaction, diff) and
 * come out in time order; `events(start, end)` is deterministic, so batches can be generated independently.
 */
export class AuditHistory {
  readonly organizations: HistoryOrganization[];
  /** Words of the states that make good full-text queries (see Vocabulary.searchWords). */
  readonly searchWords: string[];
  private readonly vocabulary: Vocabulary;
  private readonly orgWeights: Float64Array;
  private readonly actorWeights: Float64Array[];
  private readonly resourceWeights: Float64Array[];
  private readonly rules = RedactionRules.fromKeys(resolveAuditOptions().redactKeys);
  private readonly maxStateBytes = resolveAuditOptions().maxStateBytes;
  /** States are rebuilt from the resource's seed; cached, as most events touch a hot resource. */
  private readonly states = new Map<number, Record<string, unknown>>();

  constructor(private readonly shape: HistoryShape) {
    const random = prng(shape.seed ?? 7);
    this.vocabulary = new Vocabulary(random);
    this.searchWords = this.vocabulary.searchWords;
    this.orgWeights = zipf(shape.organizations, 0.8);
    const share = (k: number) => this.orgWeights[k] - (k > 0 ? this.orgWeights[k - 1] : 0);
    this.organizations = Array.from({ length: shape.organizations }, (_, k) => ({
      id: `org_${hex(random, 12)}`,
      share: share(k),
      actors: [],
      resources: [],
    }));
    // Every organization gets one user and five resources; the rest go by size.
    const owner = (i: number, guaranteed: number) =>
      this.organizations[i < guaranteed ? i % shape.organizations : sample(random, this.orgWeights)];
    for (let i = 0; i < shape.actors; i++)
      owner(i, shape.organizations).actors.push(`user_${hex(random, 10)}`);
    const typeWeights = Float64Array.from(TYPE_WEIGHTS, (_, i) =>
      TYPE_WEIGHTS.slice(0, i + 1).reduce((a, b) => a + b),
    );
    for (let i = 0; i < shape.resources; i++) {
      const type = RESOURCE_TYPES[sample(random, typeWeights)];
      owner(i, shape.organizations * 5).resources.push({ type, id: uuid(random), seed: i + 1 });
    }
    this.actorWeights = this.organizations.map((o) => zipf(o.actors.length, 0.9));
    this.resourceWeights = this.organizations.map((o) => zipf(o.resources.length, 0.8));
  }

  /** Events number `start` (inclusive) to `end` (exclusive) of the history, oldest first. */
  *events(start: number, end: number): Generator<AuditEvent> {
    const random = prng((this.shape.seed ?? 7) * 1_000_003 + start);
    const from = this.shape.from.getTime();
    const step = (this.shape.to.getTime() - from) / this.shape.events;
    for (let i = start; i < end; i++) {
      const event = this.event(random, new Date(from + Math.floor((i + random()) * step)));
      if (event) yield event;
    }
  }

  private event(random: Random, occurredAt: Date): AuditEvent | null {
    const o = sample(random, this.orgWeights);
    const org = this.organizations[o];
    const resource = org.resources[sample(random, this.resourceWeights[o])];
    const service = random() < 0.1;
    const actorId = service ? pick(random, SERVICES) : org.actors[sample(random, this.actorWeights[o])];
    const roll = random();
    const failed = random() < 0.03;
    let action: string;
    let resourceType: string | null = resource.type;
    let resourceId: string | null = resource.id;
    let before: unknown;
    let after: unknown;
    let metadata: Record<string, unknown> | null = service ? { source: actorId, attempt: 1 } : null;
    let severity: AuditSeverity = 'info';
    if (roll < 0.42) {
      action = 'update';
      before = this.state(resource);
      after = updatedResourceState(
        this.vocabulary,
        random,
        before as Record<string, unknown>,
        pick(random, org.actors),
      );
    } else if (roll < 0.72) {
      action = 'read';
    } else if (roll < 0.82) {
      action = 'create';
      after = this.state(resource);
    } else if (roll < 0.85) {
      action = 'delete';
      before = this.state(resource);
      severity = resource.type === 'api_key' ? 'critical' : 'notice';
    } else if (roll < 0.97) {
      action = 'login';
      resourceType = null;
      resourceId = null;
      metadata = { method: pick(random, ['password', 'sso', 'passkey']) };
    } else if (roll < 0.98) {
      action = 'export';
      resourceType = 'audit-event';
      resourceId = null;
      metadata = { format: pick(random, ['csv', 'ndjson']), rows: Math.floor(random() * 50_000) };
    } else {
      action = 'grant';
      resourceType = 'role';
      resourceId = null;
      after = {
        role: pick(random, ROLES),
        grantee: pick(random, org.actors),
        note: this.vocabulary.text(random, 4),
      };
      severity = 'warning';
    }
    const method = { read: 'GET', update: 'PATCH', create: 'POST', delete: 'DELETE' }[action] ?? 'POST';
    return buildAuditEvent(
      {
        action,
        actor: { id: actorId, organizationId: org.id, type: service ? 'service' : 'user' },
        resourceType,
        resourceId,
        before,
        after,
        diff: before !== undefined && after !== undefined,
        recordNoOps: true,
        status: failed ? 'failure' : 'success',
        statusCode: service
          ? null
          : failed
            ? pick(random, [403, 409, 422, 500])
            : method === 'POST'
              ? 201
              : 200,
        errorMessage: failed ? `${action} rejected: ${this.vocabulary.text(random, 3)}` : null,
        severity,
        requestId: service ? null : uuid(random),
        ip: service
          ? null
          : `10.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}`,
        userAgent: service ? null : pick(random, USER_AGENTS),
        route: service ? null : `/${resourceType ?? 'auth'}s${resourceId ? '/:id' : ''}`,
        method: service ? null : method,
        durationMs: service ? null : Math.round(3 + 400 * random() ** 4),
        metadata,
        occurredAt,
        rules: this.rules,
      },
      this.maxStateBytes,
    );
  }

  /** The state of a resource, stable across its events (rebuilt from its seed; cached, hot resources recur). */
  private state(resource: HistoryResource): Record<string, unknown> {
    let state = this.states.get(resource.seed);
    if (!state) this.states.set(resource.seed, (state = resourceState(this.vocabulary, resource)));
    return state;
  }
}
