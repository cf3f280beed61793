import type { AuditEvent } from 'src/audit/audit.types';
import type { QueuedEvent } from 'src/audit/delivery/queued-event';
import { toQueued } from 'src/audit/delivery/queued-event';
import { EncoderThread } from 'src/audit/encoding/encoder-thread';
import { decryptValue, TOKEN, unwrapKey, uuidToRef } from 'src/audit/personal-data/personal-data.cipher';
import type { SubjectKeyRecord } from 'src/audit/personal-data/subject-keyring';

// The thread runs the built worker (dist/): `npm test` builds before Jest starts.
const KEK = Buffer.alloc(32, 7);
const PERSONAL = { encryptionKey: KEK, keys: ['email', 'name'], keyTtlMs: 60_000 };

const event = (n: number, overrides: Partial<AuditEvent> = {}): AuditEvent => ({
  id: `01a20d1f-d94f-735f-869f-${String(n).padStart(12, '0')}`,
  occurredAt: new Date(Date.UTC(2026, 10, 24, 10, 0, 0, n % 1000)),
  organizationId: 'org-a',
  actorId: 'alice',
  actorType: 'user',
  action: 'update',
  eventType: 'account.update',
  resourceType: 'account',
  resourceId: String(n % 7),
  before: { email: `user${n}@example.com`, plan: 'free', note: 'tab\there, back\\slash' },
  after: { email: `user${n}@example.org`, plan: 'pro', note: 'tab\there, back\\slash' },
  changes: [{ path: 'email', before: `user${n}@example.com`, after: `user${n}@example.org` }],
  status: 'success',
  statusCode: 200,
  errorMessage: null,
  severity: 'info',
  requestId: `r${n}`,
  ip: '203.0.113.9',
  userAgent: 'jest',
  route: '/accounts/:id',
  method: 'PATCH',
  durationMs: 3,
  metadata: { source: 'test' },
  ...overrides,
});

/** A thread whose output the test collects; `next(n)` resolves once n more events came back. */
function collecting(personal: typeof PERSONAL | null) {
  const received: QueuedEvent[] = [];
  const errors: string[] = [];
  const deaths: Array<{ count: number; error: Error }> = [];
  let waiter: { count: number; resolve: () => void } | null = null;
  const check = () => {
    if (waiter && received.length >= waiter.count) waiter.resolve();
  };
  const thread = new EncoderThread(personal, {
    encoded: (events) => {
      received.push(...events);
      check();
    },
    failed: (messages) => errors.push(...messages),
    died: (count, error) => deaths.push({ count, error }),
  });
  const until = (count: number) =>
    new Promise<void>((resolve) => {
      waiter = { count, resolve };
      check();
    });
  return { thread, received, errors, deaths, until };
}

/** The personal values of a line decrypted with the keys the events carried. */
function decryptTokens(line: string, keys: Map<string, Buffer>): string[] {
  const tokens = line.match(/pii:v1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+/g) ?? [];
  return tokens.map((token) => {
    const [, ref, payload] = TOKEN.exec(token)!;
    return String(decryptValue(keys.get(ref)!, payload));
  });
}

describe('EncoderThread', () => {
  let open: EncoderThread[] = [];
  const track = <T extends { thread: EncoderThread }>(created: T): T => {
    open.push(created.thread);
    return created;
  };
  afterEach(async () => {
    await Promise.all(open.map((thread) => thread.close()));
    open = [];
  });

  it('gives back every event in order, each line byte for byte the one encoded on this thread', async () => {
    const { thread, received, errors, until } = track(collecting(null));
    const events = Array.from({ length: 1500 }, (_, n) => event(n));
    for (const e of events.slice(0, 700)) thread.encode(e);
    await new Promise((resolve) => setImmediate(resolve)); // a second message
    for (const e of events.slice(700)) thread.encode(e);
    expect(thread.pending).toBe(1500);
    await until(1500);
    expect(errors).toEqual([]);
    expect(thread.pending).toBe(0);
    expect(received.map((q) => q.id)).toEqual(events.map((e) => e.id));
    for (let i = 0; i < events.length; i++) {
      const inline = toQueued(events[i]);
      expect(received[i].line).toBe(inline.line);
      expect(received[i].occurredAt).toEqual(events[i].occurredAt);
      expect(received[i].keys).toBeUndefined();
    }
  });

  it('encrypts personal data with subject keys that travel with the events until they are stored', async () => {
    const { thread, received, until } = track(collecting(PERSONAL));
    thread.encode(event(1));
    await until(1);
    const first = received[0];
    expect(first.line).not.toContain('user1@example.com');
    const carried = first.keys!;
    expect(carried.map((key) => key.subjectId).sort()).toEqual(['account:1', 'alice']);
    const refs = new Map(
      carried.map((key: SubjectKeyRecord) => [
        uuidToRef(key.id),
        unwrapKey(KEK, Buffer.from(key.wrappedKey, 'base64'), key.id, key.organizationId, key.subjectId),
      ]),
    );
    expect(decryptTokens(first.line, refs)).toEqual(
      expect.arrayContaining(['user1@example.com', 'user1@example.org', '203.0.113.9']),
    );

    // Same subject again: same key, still carried until a commit is reported.
    thread.encode(event(8));
    await until(2);
    expect(received[1].keys!.map((key) => key.id).sort()).toEqual(carried.map((key) => key.id).sort());
    thread.markStored(carried.map((key) => key.id));
    thread.encode(event(15));
    await until(3);
    expect(received[2].keys).toBeUndefined();
  });

  it('gives an erased subject a new key for events captured after the erasure', async () => {
    const { thread, received, until } = track(collecting(PERSONAL));
    thread.encode(event(1));
    await until(1);
    const resourceKey = (q: QueuedEvent) => q.keys?.find((key) => key.subjectId === 'account:1');
    const before = resourceKey(received[0])!;
    thread.markStored(received[0].keys!.map((key) => key.id));

    thread.encode(event(8)); // captured before the erasure: the old key
    thread.forget('org-a', 'account:1');
    thread.encode(event(15)); // after it: a new one, carried again
    await until(3);
    expect(resourceKey(received[1])).toBeUndefined();
    const after = resourceKey(received[2])!;
    expect(after.id).not.toBe(before.id);
  });

  it('reports the events it held when the thread dies, and stops taking events', async () => {
    const { thread, deaths } = track(collecting(null));
    for (let n = 0; n < 50; n++) thread.encode(event(n));
    // Killed before the first message is even sent (it goes out on the next turn of the event loop).
    await (thread as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    expect(deaths).toHaveLength(1);
    expect(deaths[0].count).toBe(50);
    expect(deaths[0].error.message).toMatch(/exited/);
    expect(thread.running).toBe(false);
    expect(thread.pending).toBe(0);
  });
});
