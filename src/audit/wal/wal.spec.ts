import type { Pgoutput } from 'pg-logical-replication';
import { RedactionRules } from '../redaction';
import { buildAuditEvent } from '../audit-event.factory';
import {
  contextLiteral,
  parseContext,
  WAL_CONTEXT_PREFIX,
  WAL_SESSION_PREFIX,
  WalContext,
} from './wal-context';
import { tableKey, WalTable, walDrafts, walEventId } from './wal-events';
import { lsnToBigInt, WalTransactionAssembler } from './wal-transactions';
import { slotProblem } from './wal-setup.repository';
import { resolveWalOptions } from './wal-options';
import { isCapturedTable, registerCapturedTables } from './wal-context.hook';

const relation = (name: string): Pgoutput.MessageRelation => ({
  tag: 'relation',
  relationOid: 1,
  schema: 'public',
  name,
  replicaIdentity: 'full',
  columns: [],
  keyColumns: ['id'],
});
const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const begin = (lsn: string): Pgoutput.MessageBegin => ({
  tag: 'begin',
  commitLsn: lsn,
  commitTime: BigInt(Date.UTC(2026, 11, 7, 12) * 1000),
  xid: 42,
});
const commit = (lsn: string, end: string): Pgoutput.MessageCommit => ({
  tag: 'commit',
  flags: 0,
  commitLsn: lsn,
  commitEndLsn: end,
  commitTime: 0n,
});
const message = (prefix: string, content: unknown, transactional = true): Pgoutput.MessageMessage => ({
  tag: 'message',
  flags: 1,
  transactional,
  messageLsn: null,
  prefix,
  content: json(content),
});
const CONTEXT: WalContext = {
  v: 1,
  actor: { id: 'u1', type: 'user', org: 'org-1' },
  requestId: 'req-1',
  ip: '10.0.0.1',
  userAgent: 'jest',
  route: '/accounts/:id',
  method: 'PATCH',
  reason: 'ticket 7',
};
const ACCOUNTS: WalTable = {
  schema: 'public',
  table: 'accounts',
  resourceType: 'account',
  keyColumn: 'id',
  tenantColumn: 'organization_id',
  properties: new Map([
    ['id', 'id'],
    ['organization_id', 'organizationId'],
    ['password_hash', 'passwordHash'],
  ]),
  rules: RedactionRules.fromKeys(['passwordHash']),
  ignoredFields: [],
};
const TABLES = new Map([[tableKey('public', 'accounts'), ACCOUNTS]]);

describe('WalTransactionAssembler', () => {
  const captured = (_schema: string, table: string) => table === 'accounts';

  it('gives a committed transaction its captured changes, context and session, nothing before its commit', () => {
    const assembler = new WalTransactionAssembler(captured);
    const row = { id: 'a1', organization_id: 'org-1', plan: 'pro' };
    expect(assembler.push(begin('0/16B3748'))).toBeNull();
    expect(assembler.inTransaction).toBe(true);
    assembler.push({
      tag: 'update',
      relation: relation('accounts'),
      key: null,
      old: { ...row, plan: 'free' },
      new: row,
    });
    assembler.push({ tag: 'insert', relation: relation('other'), new: { id: 'x' } });
    assembler.push(message(WAL_SESSION_PREFIX, { role: 'app', currentRole: 'app', application: 'api' }));
    assembler.push(message(WAL_CONTEXT_PREFIX, CONTEXT));
    assembler.push(message(WAL_CONTEXT_PREFIX, { v: 1, actor: { type: 'user' } }, false)); // not transactional: ignored
    const tx = assembler.push(commit('0/16B3748', '0/16B3790'))!;
    expect(assembler.inTransaction).toBe(false);
    expect(tx).toMatchObject({ xid: 42, commitLsn: '0/16B3748', endLsn: '0/16B3790', context: CONTEXT });
    expect(tx.session).toEqual({ role: 'app', application: 'api' });
    expect(tx.changes).toEqual([
      { kind: 'update', schema: 'public', table: 'accounts', old: { ...row, plan: 'free' }, new: row },
    ]);
    expect(tx.commitTime.toISOString()).toBe('2026-12-07T12:00:00.000Z');
  });

  it('forgets a transaction cut by a reset (a lost connection)', () => {
    const assembler = new WalTransactionAssembler(captured);
    assembler.push(begin('0/1'));
    assembler.reset();
    expect(assembler.push(commit('0/1', '0/2'))).toBeNull();
  });
});

describe('parseContext: a message anyone can emit, read defensively', () => {
  it('reads what the hook wrote, through the SQL literal', () => {
    const literal = contextLiteral({ ...CONTEXT, reason: "it's O'Brien's" });
    const text = literal.slice(1, -1).replace(/''/g, "'");
    expect(parseContext(new TextEncoder().encode(text))).toEqual({ ...CONTEXT, reason: "it's O'Brien's" });
  });

  it.each([
    ['not JSON', new TextEncoder().encode('{')],
    ['another version', json({ ...CONTEXT, v: 2 })],
    [
      'an actor claiming to be the database',
      json({ ...CONTEXT, actor: { id: 'x', type: 'database', org: null } }),
    ],
    ['no actor', json({ v: 1 })],
  ])('refuses %s', (_what, content) => {
    expect(parseContext(content)).toBeNull();
  });

  it('caps lengths and drops wrong types', () => {
    const parsed = parseContext(
      json({ ...CONTEXT, requestId: 'r'.repeat(5000), ip: 7, route: ['x'], redact: ['a', 3], ignore: 'b' }),
    )!;
    expect(parsed.redact).toEqual(['a']);
    expect(parsed.ignore).toBeUndefined();
    expect(parsed.requestId).toHaveLength(256);
    expect(parsed.ip).toBeNull();
    expect(parsed.route).toBeNull();
  });
});

describe('walDrafts', () => {
  const tx = (context: WalContext | null) => ({
    xid: 7,
    commitLsn: '0/AB',
    endLsn: '0/B0',
    commitTime: new Date('2026-12-07T12:00:00.000Z'),
    context,
    session: { role: 'ops', application: 'psql' },
    changes: [
      {
        kind: 'update' as const,
        schema: 'public',
        table: 'accounts',
        old: { id: 'a1', organization_id: 'org-1', plan: 'free', password_hash: 'old-secret' },
        new: { id: 'a1', organization_id: 'org-1', plan: 'pro', password_hash: 'new-secret' },
      },
      { kind: 'truncate' as const, schema: 'public', table: 'accounts', old: null, new: null },
    ],
  });

  it('an application change: the request context, property names, redaction, a diff', () => {
    const [update] = walDrafts(tx(CONTEXT), TABLES);
    const event = buildAuditEvent(update.draft, 65536)!;
    expect(event).toMatchObject({
      action: 'update',
      actorId: 'u1',
      actorType: 'user',
      organizationId: 'org-1',
      resourceType: 'account',
      resourceId: 'a1',
      requestId: 'req-1',
      occurredAt: new Date('2026-12-07T12:00:00.000Z'),
      metadata: {
        reason: 'ticket 7',
        transactionId: '7',
        wal: { lsn: '0/AB', database: { role: 'ops', application: 'psql' } },
      },
    });
    expect(event.before).toMatchObject({ organizationId: 'org-1', plan: 'free' });
    expect(JSON.stringify(event)).not.toContain('secret');
    expect(event.changes?.map((c) => c.path).sort()).toEqual(['passwordHash', 'plan']);
  });

  it("the route's extra redacted paths and ignored fields travel with the context", () => {
    const [update] = walDrafts(tx({ ...CONTEXT, redact: ['plan'], ignore: ['passwordHash'] }), TABLES);
    const event = buildAuditEvent(update.draft, 65536)!;
    expect(event.before).toMatchObject({ plan: '[REDACTED]' });
    expect(event.changes?.map((c) => c.path)).toEqual(['plan']);
    expect(JSON.stringify(event)).not.toContain('free');
  });

  it('a change no request claimed: actor database (the role), the row organization; a truncate is a warning', () => {
    const [update, truncate] = walDrafts(tx(null), TABLES);
    expect(update.draft.actor).toEqual({ id: 'ops', type: 'database', organizationId: 'org-1' });
    expect(truncate.draft).toMatchObject({ action: 'truncate', resourceId: null, severity: 'warning' });
  });

  it('ids are the same when the transaction is decoded again, different per change, and ordered', () => {
    const first = walDrafts(tx(CONTEXT), TABLES).map((d) => d.id);
    expect(walDrafts(tx(CONTEXT), TABLES).map((d) => d.id)).toEqual(first);
    expect(new Set(first).size).toBe(2);
    expect([...first].sort()).toEqual(first);
    expect(walEventId({ commitLsn: '0/AC', commitTime: new Date('2026-12-07T12:00:00.000Z') }, 0)).not.toBe(
      first[0],
    );
  });
});

describe('slot limits and options', () => {
  const options = { slot: 's', maxLagBytes: 1000, maxRetainedBytes: 10_000 };
  const state = { active: true, walStatus: 'reserved', lagBytes: 0, retainedBytes: 0, safeBytes: null };

  it.each([
    [null, /does not exist/],
    [{ ...state, walStatus: 'lost' }, /invalidated/],
    [{ ...state, retainedBytes: 20_000 }, /disk fills/],
    [{ ...state, safeBytes: 100 }, /from being invalidated/],
    [{ ...state, lagBytes: 5000 }, /behind/],
  ])('reports %j', (slot, problem) => {
    expect(slotProblem(options, slot)).toMatch(problem);
  });

  it('a healthy slot has no problem', () => {
    expect(slotProblem(options, state)).toBeNull();
  });

  it("knows a wal route's table is not captured once AuditWalModule has said which are", () => {
    expect(isCapturedTable('public', 'invoices')).toBe(true); // nothing registered: not known here
    registerCapturedTables(['public.accounts']);
    expect(isCapturedTable('public', 'accounts')).toBe(true);
    expect(isCapturedTable('public', 'invoices')).toBe(false);
  });

  it('LSNs compare as numbers', () => {
    expect(lsnToBigInt('1/0') > lsnToBigInt('0/FFFFFFFF')).toBe(true);
  });

  it('bad options are a start-up error naming them', () => {
    expect(() => resolveWalOptions({ entities: [], slot: 'Bad-Slot', batchSize: 0 })).toThrow(
      'Invalid AuditWalModule options: entities must name at least one entity; slot must be a lowercase identifier (letters, digits, _; at most 63); batchSize must be a positive integer',
    );
  });
});
