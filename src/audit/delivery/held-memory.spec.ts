import { resolveAuditOptions } from '../audit-options';
import { batchBytes, heldBytes, QueuedEvent } from '../queued-event';
import { HeldMemory } from './held-memory';

const event = (lineLength: number, keys = 0): QueuedEvent => ({
  id: `e${lineLength}`,
  occurredAt: new Date(0),
  organizationId: null,
  resourceType: null,
  action: 'update',
  eventType: 'x.update',
  severity: 'info',
  line: 'x'.repeat(lineLength),
  enqueuedAt: 0,
  ...(keys > 0
    ? {
        keys: Array.from({ length: keys }, (_, i) => ({
          id: `k${i}`,
          organizationId: null,
          subjectId: 's',
          kekId: 'kek',
          wrappedKey: 'w',
          createdAt: 0,
        })),
      }
    : {}),
});

describe('heldBytes', () => {
  it('grows with the line and with each subject key carried', () => {
    const plain = heldBytes(event(1000));
    expect(plain).toBeGreaterThan(1000);
    expect(heldBytes(event(2000)) - plain).toBe(1000);
    expect(heldBytes(event(1000, 2))).toBeGreaterThan(plain);
    expect(heldBytes(event(1000, 2)) - heldBytes(event(1000, 1))).toBe(heldBytes(event(1000, 1)) - plain);
    expect(batchBytes([event(1000), event(2000)])).toBe(plain + heldBytes(event(2000)));
  });
});

describe('HeldMemory', () => {
  it('counts the buffer and the batches taken out of it until they are released', () => {
    const memory = new HeldMemory();
    const buffer = [event(100), event(200), event(300)];
    buffer.forEach((e) => memory.added(e));
    const all = batchBytes(buffer);
    expect(memory.total).toBe(all);
    expect(memory.inBuffer).toBe(all);

    const { count, bytes } = memory.cut(buffer, 2, Infinity);
    expect(count).toBe(2);
    expect(bytes).toBe(batchBytes(buffer.slice(0, 2)));
    const batch = buffer.slice(0, 2);
    memory.taken(batch, bytes);
    // Out of the buffer but not yet written: still held.
    expect(memory.inBuffer).toBe(heldBytes(buffer[2]));
    expect(memory.total).toBe(all);

    // A retried batch is held once however often it is taken up again.
    memory.hold(batch);
    expect(memory.total).toBe(all);
    memory.release(batch);
    expect(memory.total).toBe(heldBytes(buffer[2]));
    memory.release(batch);
    expect(memory.total).toBe(heldBytes(buffer[2]));
  });

  it('cuts a batch before it passes the byte limit, never below one event', () => {
    const memory = new HeldMemory();
    const buffer = [event(1000), event(1000), event(1000)];
    const one = heldBytes(buffer[0]);
    expect(memory.cut(buffer, 3, 2 * one).count).toBe(2);
    expect(memory.cut(buffer, 3, 2 * one - 1).count).toBe(1);
    expect(memory.cut(buffer, 3, 10).count).toBe(1);
    expect(memory.cut(buffer, 10, Infinity)).toEqual({ count: 3, bytes: 3 * one });
    expect(memory.cut([], 10, Infinity)).toEqual({ count: 0, bytes: 0 });
  });

  it('counts a synchronous write (never in the buffer) and forgets an empty batch', () => {
    const memory = new HeldMemory();
    const sync = [event(500)];
    memory.hold(sync);
    expect(memory.total).toBe(heldBytes(sync[0]));
    memory.hold([]);
    memory.release(sync);
    expect(memory.total).toBe(0);
  });
});

describe('maxBufferBytes option', () => {
  it('defaults to 32 MiB and refuses less than 1 MiB with a clear start-up error', () => {
    expect(resolveAuditOptions({ personalData: false }).maxBufferBytes).toBe(32 * 1024 * 1024);
    expect(resolveAuditOptions({ personalData: false, maxBufferBytes: 1024 * 1024 }).maxBufferBytes).toBe(
      1024 * 1024,
    );
    expect(() => resolveAuditOptions({ personalData: false, maxBufferBytes: 64 * 1024 })).toThrow(
      'Invalid AuditModule options: maxBufferBytes must be >= 1048576 (1 MiB), got 65536',
    );
  });
});
