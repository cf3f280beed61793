import { AuditService } from '../../src/audit/audit.service';
import { resolveAuditOptions } from '../../src/audit/audit-options';
import type { AuditDelivery } from '../../src/audit/audit-delivery.service';
import { AuditTargetResolver } from '../../src/audit/audit-target.resolver';
import { AuditWriter } from '../../src/audit/audit-writer.service';
import { AuditEvent, RecordAuditEventInput } from '../../src/audit/audit.types';
import { encodeEvent } from '../../src/audit/copy-format';
import { RedactionRules } from '../../src/audit/redaction';

const FIRST_NAMES = [
  'Ada',
  'Grace',
  'Linus',
  'Margaret',
  'Edsger',
  'Barbara',
  'Dennis',
  'Frances',
  'Ken',
  'Radia',
];
const LAST_NAMES = [
  'Lovelace',
  'Hopper',
  'Torvalds',
  'Hamilton',
  'Dijkstra',
  'Liskov',
  'Ritchie',
  'Allen',
  'Perlman',
];
const PLANS = ['free', 'pro', 'enterprise'];
const STATUSES = ['active', 'trialing', 'past_due'];
const LOCALES = ['en-GB', 'en-US', 'de-DE', 'fr-FR', 'nl-NL'];
const SOURCES = ['billing-sync', 'admin-console', 'scim-provisioning', 'support-tool'];
const USER_AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0',
  'acme-cli/3.2.0 node/20.20.2',
];

/** mulberry32: a tiny seeded PRNG, so every run generates the same events. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Random = ReturnType<typeof prng>;
export const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];
const HEX_DIGITS = '0123456789abcdef';
export const hex = (random: Random, length: number): string => {
  let text = '';
  for (let i = 0; i < length; i++) text += HEX_DIGITS[Math.floor(random() * 16)];
  return text;
};
export const uuid = (random: Random): string =>
  `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-a${hex(random, 3)}-${hex(random, 12)}`;

/** An account as a service would hold it: the before state of an update. */
export function accountState(random: Random) {
  const first = pick(random, FIRST_NAMES);
  const last = pick(random, LAST_NAMES);
  return {
    id: uuid(random),
    name: `${first} ${last}`,
    email: `${first}.${last}@example.com`.toLowerCase(),
    plan: pick(random, PLANS),
    status: pick(random, STATUSES),
    seats: 1 + Math.floor(random() * 200),
    locale: pick(random, LOCALES),
  };
}

/** The same account after a typical update: plan and seat count change. */
export function updatedState(random: Random, before: ReturnType<typeof accountState>) {
  return {
    ...before,
    plan: PLANS[(PLANS.indexOf(before.plan) + 1) % PLANS.length],
    seats: before.seats + 1 + Math.floor(random() * 10),
  };
}

/**
 * Realistic inputs for `AuditService.record()`: an account update with before and after states, by a user
 * (with request context) or, one time in five, by a background service (without). Deterministic per seed.
 */
export function makeRecordInputs(count: number, seed = 1): RecordAuditEventInput[] {
  const random = prng(seed);
  const organizations = Array.from({ length: 20 }, () => `org_${hex(random, 12)}`);
  return Array.from({ length: count }, (): RecordAuditEventInput => {
    const organizationId = pick(random, organizations);
    const before = accountState(random);
    const change = {
      resourceType: 'account',
      resourceId: before.id,
      before,
      after: updatedState(random, before),
    };
    if (random() < 0.2) {
      const metadata = { source: pick(random, SOURCES), jobId: `job_${hex(random, 10)}`, attempt: 1 };
      return {
        action: 'update',
        actor: { id: 'svc-billing', organizationId, type: 'service' },
        ...change,
        metadata,
      };
    }
    return {
      action: 'update',
      actor: { id: `user_${hex(random, 10)}`, organizationId, type: 'user' },
      ...change,
      requestId: uuid(random),
      ip: `10.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}`,
      userAgent: pick(random, USER_AGENTS),
      metadata: { source: pick(random, SOURCES) },
    };
  });
}

/**
 * A function returning the event `AuditService.record()` stores for an input: the real service (redaction,
 * diff, size cap), with a writer that accepts everything and keeps nothing.
 */
export function createEventBuilder(): (input: RecordAuditEventInput) => AuditEvent {
  const options = resolveAuditOptions();
  const writer = {} as unknown as AuditWriter;
  const delivery = { submit: () => true } as unknown as AuditDelivery;
  const targets = {
    rules: RedactionRules.fromKeys(options.redactKeys),
    ignoredFieldsFor: () => options.ignoredFields,
  } as unknown as AuditTargetResolver;
  const service = new AuditService(writer, delivery, targets, options);
  return (input) => service.record(input)!;
}

/** Bytes of one event as a line of COPY text, as the writer sends it. */
export const encodedSize = (event: AuditEvent): number => Buffer.byteLength(encodeEvent(event));
