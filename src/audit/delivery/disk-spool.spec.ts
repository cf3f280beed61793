import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueuedEvent } from '../queued-event';
import { DiskSpool } from './disk-spool';

const events = (n: number, from = 0): QueuedEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `id-${from + i}`,
    occurredAt: new Date(Date.UTC(2026, 10, 24, 0, 0, from + i)),
    organizationId: 'org',
    resourceType: 'job',
    action: 'update',
    eventType: 'job.update',
    severity: 'info',
    enqueuedAt: 1_000 + from + i,
    line: `row ${from + i}\n`,
  }));

describe('DiskSpool', () => {
  const directory = () => mkdtempSync(join(tmpdir(), 'spool-spec-'));

  it('gives segments back oldest first, whole, and forgets them once removed', async () => {
    const spool = new DiskSpool({ directory: directory(), maxBytes: 1 << 20, fsync: 'always' });
    await spool.append(events(3, 0), false);
    await spool.append(events(2, 3), true);
    expect(spool.stats()).toMatchObject({ segments: 2, events: 5, oldestEnqueuedAt: 1000 });

    const first = (await spool.oldest())!;
    expect(first.events.map((e) => e.id)).toEqual(['id-0', 'id-1', 'id-2']);
    expect(first.idempotent).toBe(false);
    await spool.remove(first.name);

    const second = (await spool.oldest())!;
    expect(second.events.map((e) => e.id)).toEqual(['id-3', 'id-4']);
    expect(second.idempotent).toBe(true); // written after a failed attempt: may already be stored
    await spool.remove(second.name);
    expect(spool.isEmpty()).toBe(true);
    expect(spool.stats()).toMatchObject({ segments: 0, events: 0, bytes: 0, oldestEnqueuedAt: null });
  });

  // Between processes (a live holder, a killed one): test/spool-lock.e2e-spec.ts.
  it('is taken over by a later spool in the same process, which the first one cannot release', () => {
    const dir = directory();
    const first = new DiskSpool({ directory: dir, maxBytes: 1 << 20, fsync: 'never' });
    const second = new DiskSpool({ directory: dir, maxBytes: 1 << 20, fsync: 'never' });
    first.close();
    expect(readFileSync(join(dir, 'spool.lock'), 'utf8')).toBe(String(process.pid));
    second.close();
    expect(readdirSync(dir)).not.toContain('spool.lock');
  });

  it('is found again by the next process, which replays the oldest segment idempotently', async () => {
    const dir = directory();
    const before = new DiskSpool({ directory: dir, maxBytes: 1 << 20, fsync: 'never' });
    await before.append(events(4), false);
    await before.append(events(2, 4), false);
    writeFileSync(join(dir, 'spool.lock'), '999999999'); // the process that wrote it is gone (kill -9)
    writeFileSync(join(dir, '000000000009-1-1-p.spool.tmp'), 'torn'); // a write cut by the crash

    const after = new DiskSpool({ directory: dir, maxBytes: 1 << 20, fsync: 'never' });
    expect(after.recoveredSegments).toBe(2);
    expect(after.stats().events).toBe(6);
    const segment = (await after.oldest())!;
    // The dead process may have committed the oldest one before deleting it; the next was never attempted.
    expect(segment.idempotent).toBe(true);
    expect(segment.events).toHaveLength(4);
    await after.remove(segment.name);
    expect((await after.oldest())!.idempotent).toBe(false);
    expect(readdirSync(dir).some((name) => name.endsWith('.tmp'))).toBe(false);
    await after.append(events(1, 10), false);
    expect(after.stats().segments).toBe(2); // numbering continues after the recovered ones
  });

  it('refuses new non-forced segments once full, and takes forced ones (critical events)', async () => {
    const spool = new DiskSpool({ directory: directory(), maxBytes: 100, fsync: 'never' });
    expect(await spool.append(events(5), false)).toBe(true);
    expect(spool.hasRoom()).toBe(false);
    expect(await spool.append(events(1, 5), false)).toBe(false);
    expect(await spool.append(events(1, 6), false, true)).toBe(true);
    expect(spool.stats().events).toBe(6);
  });

  it('reports unreadable lines instead of skipping them, and keeps set-aside records', async () => {
    const dir = directory();
    const spool = new DiskSpool({ directory: dir, maxBytes: 1 << 20, fsync: 'never' });
    await spool.append(events(2), false);
    const [name] = readdirSync(dir);
    writeFileSync(join(dir, name), readFileSync(join(dir, name), 'utf8') + '{"broken"\n');
    const segment = (await spool.oldest())!;
    expect(segment.events).toHaveLength(2);
    expect(segment.unreadable).toEqual(['{"broken"']);
    await spool.setAside([{ line: segment.unreadable[0], error: 'unreadable spool line' }]);
    expect(readFileSync(join(dir, 'dead-letter.ndjson'), 'utf8')).toContain('unreadable spool line');
  });
});
