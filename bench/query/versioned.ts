import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { buildAuditEvent } from '../../src/audit/audit-event.factory';
import { resolveAuditOptions } from '../../src/audit/audit-options';
import { AuditEvent } from '../../src/audit/audit.types';
import { AUDIT_EVENT_COLUMNS, encodeEvent } from '../../src/audit/copy-format';
import { RedactionRules } from '../../src/audit/redaction';
import { hex, pick, prng, uuid } from '../lib/events';
import { HistoryOrganization } from '../lib/event-history';
import { resourceState, updatedResourceState, Vocabulary } from '../lib/resource-states';

const COPY_SQL = `COPY audit_events (${AUDIT_EVENT_COLUMNS.join(', ')}) FROM STDIN`;

/** The record the as-of queries read: one resource with a long history inside the big table. */
export interface VersionedResource {
  organizationId: string;
  resourceType: string;
  resourceId: string;
  /** Its create and updates (its versions). */
  versions: number;
  /** Reads of it between them: in its index range too, skipped by the state filter. */
  reads: number;
  from: Date;
  to: Date;
}

export interface VersionedShape {
  organization: HistoryOrganization;
  /** Versions: one create and `versions - 1` updates. */
  versions: number;
  /** Access events (reads) of the same resource, interleaved. */
  reads: number;
  from: Date;
  to: Date;
  seed: number;
}

/**
 * The events of one account of `organization`: a create, then updates (each before = the previous after,
 * built by the real factory like every benchmark event: redaction, diff), and reads, at random instants
 * spread over [from, to), oldest first.
 */
export function versionedEvents(shape: VersionedShape): {
  resource: VersionedResource;
  events: AuditEvent[];
} {
  const random = prng(shape.seed * 104_729 + 3);
  const vocabulary = new Vocabulary(random);
  const options = resolveAuditOptions();
  const rules = RedactionRules.fromKeys(options.redactKeys);
  const resource = { type: 'account', id: uuid(random), seed: 9_000_000 + shape.seed };
  const org = shape.organization;
  const span = shape.to.getTime() - shape.from.getTime();
  const kinds: Array<'create' | 'update' | 'read'> = [
    'create',
    ...Array<'update'>(shape.versions - 1).fill('update'),
    ...Array<'read'>(shape.reads).fill('read'),
  ];
  const times = kinds.map(() => shape.from.getTime() + Math.floor(random() * span)).sort((a, b) => a - b);
  // The create first; updates and reads shuffled behind it.
  const rest = kinds.slice(1);
  for (let i = rest.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [rest[i], rest[j]] = [rest[j], rest[i]];
  }
  let state = resourceState(vocabulary, resource);
  const events: AuditEvent[] = [];
  for (const [i, action] of ['create' as const, ...rest].entries()) {
    const actor = pick(random, org.actors);
    let before: unknown;
    let after: unknown;
    if (action === 'update') {
      before = state;
      state = updatedResourceState(vocabulary, random, state, actor);
      after = state;
    } else if (action === 'create') after = state;
    const event = buildAuditEvent(
      {
        action,
        actor: { id: actor, organizationId: org.id, type: 'user' },
        resourceType: resource.type,
        resourceId: resource.id,
        before,
        after,
        diff: action === 'update',
        recordNoOps: true,
        status: 'success',
        statusCode: action === 'create' ? 201 : 200,
        severity: 'info',
        requestId: uuid(random),
        ip: `10.0.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}`,
        userAgent: 'acme-cli/3.2.0 node/20.20.2',
        route: '/accounts/:id',
        method: { create: 'POST', update: 'PATCH', read: 'GET' }[action],
        durationMs: 5 + Math.floor(random() * 40),
        metadata: { session: hex(random, 8) },
        occurredAt: new Date(times[i]),
        rules,
      },
      options.maxStateBytes,
    );
    if (event) events.push(event);
  }
  return {
    resource: {
      organizationId: org.id,
      resourceType: resource.type,
      resourceId: resource.id,
      versions: events.filter((e) => e.action !== 'read').length,
      reads: events.filter((e) => e.action === 'read').length,
      from: new Date(times[0]),
      to: new Date(times[times.length - 1]),
    },
    events,
  };
}

/** COPYs the events into audit_events, as the load does (one statement). */
export async function copyEvents(url: string, events: AuditEvent[]): Promise<void> {
  const client = new Client({ connectionString: url, application_name: 'audit-bench-load' });
  await client.connect();
  try {
    await pipeline(Readable.from([events.map(encodeEvent).join('')]), client.query(copyFrom(COPY_SQL)));
  } finally {
    await client.end();
  }
}
