import { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import request from 'supertest';
import { AuditModuleOptions, AuditService } from '../src/audit';
import { startNotesApp } from './support/notes-app';
import { createTestDatabase, TestDatabase } from './support/test-db';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Memory mode under pressure: the synchronous path of critical events, and the overflow policies. */
describe('memory delivery: critical events and overflow', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let locker: Client;

  const count = async (where = 'true') =>
    (await db.sql.query(`SELECT count(*)::int AS n FROM audit_events WHERE ${where}`)).rows[0].n as number;

  /** Holds an exclusive lock on the events table: COPY waits, so the buffer fills up. */
  const jam = async () => {
    locker = new Client({ connectionString: db.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE');
  };
  const unjam = async () => {
    await locker.query('ROLLBACK');
    await locker.end();
  };

  /**
   * A tight buffer: one COPY of 10 at a time, 20 more waiting, then the high-water mark. Only full batches
   * are written (no timer flush in the test's time), so what is where does not depend on timing.
   */
  const tight = (extra: AuditModuleOptions = {}) =>
    startNotesApp(db.url, {
      batchSize: 10,
      maxBuffer: 20,
      flushConcurrency: 1,
      flushIntervalMs: 60_000,
      spool: false,
      ...extra,
    });

  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await app?.close();
    await db.drop();
  });

  it('commits a critical event (a delete) before answering, without waiting for a flush', async () => {
    app = await startNotesApp(db.url, { flushIntervalMs: 60_000, batchSize: 1000 });
    await request(app.getHttpServer()).post('/notes').expect(201);
    await request(app.getHttpServer()).delete('/notes/n1').expect(200);
    expect(await count(`action = 'delete' AND resource_id = 'n1'`)).toBe(1);
    expect(await count(`action = 'create'`)).toBe(0); // still in the buffer: the ordinary path
  });

  it('drop policy: past the high-water mark a non-critical event is dropped and counted, a strict route answers 503 before its handler runs', async () => {
    app = await tight();
    const audit = app.get(AuditService);
    await jam();
    try {
      for (let i = 0; i < 30; i++) await request(app.getHttpServer()).post('/notes').expect(201);
      for (let i = 0; i < 50 && audit.stats().inFlight === 0; i++) await sleep(20);
      expect(audit.stats()).toMatchObject({ pending: 20, inFlight: 10, dropped: 0 });

      await request(app.getHttpServer()).post('/notes').expect(201);
      expect(audit.stats().droppedByReason.high_water).toBe(1);
      const strict = await request(app.getHttpServer()).post('/strict-notes').expect(503);
      expect(strict.body.message).toBe('Audit trail unavailable, try again later');
    } finally {
      await unjam();
    }
    expect(await audit.flush(10_000)).toBe(true);
    expect(await count(`action = 'create'`)).toBe(30);
  });

  it('a strict route answers 503 when its event is lost after the handler ran, and the 503 is recorded as a failure', async () => {
    app = await tight();
    const audit = app.get(AuditService);
    await jam();
    try {
      // The handler's own 30 events: 10 in a COPY (waiting on the lock), 20 waiting: the high-water mark.
      const strict = await request(app.getHttpServer()).post('/strict-notes/crowded').expect(503);
      expect(strict.body.message).toBe('Audit trail unavailable, try again later');
      // Its success event, then the failure event recording the 503: both past the mark.
      expect(audit.stats().droppedByReason.high_water).toBe(2);
    } finally {
      await unjam();
    }
    expect(await audit.flush(10_000)).toBe(true);
    expect(await count(`action = 'crowd'`)).toBe(30);
    expect(await count(`resource_type = 'note' AND action <> 'crowd'`)).toBe(0);
  });

  it('block policy: a request waits for room, and its event is kept once the writer catches up', async () => {
    app = await tight({ overflow: 'block', overflowBlockMs: 5_000 });
    const audit = app.get(AuditService);
    await jam();
    let answered = false;
    let pendingRequest: Promise<unknown> | undefined;
    try {
      for (let i = 0; i < 30; i++) await request(app.getHttpServer()).post('/notes').expect(201);
      pendingRequest = request(app.getHttpServer())
        .post('/notes')
        .expect(201)
        .then(() => (answered = true));
      await sleep(300);
      expect(answered).toBe(false); // waiting for room, not dropped
    } finally {
      await unjam();
    }
    await pendingRequest;
    expect(answered).toBe(true);
    expect(await audit.flush(10_000)).toBe(true);
    expect(audit.stats().dropped).toBe(0);
    expect(await count(`action = 'create'`)).toBe(31);
  });
});
