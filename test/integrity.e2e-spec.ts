import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AuditService } from '../src/audit';
import { AuditEventRepository } from '../src/audit/audit-event.repository';
import { encodeEvent } from '../src/audit/copy-format';
import { eventId } from '../src/audit/event-id';
import { CANONICAL_COLUMNS_SQL } from '../src/audit/integrity/event-hash';
import { createHash } from 'node:crypto';
import { to as copyTo } from 'pg-copy-streams';
import { GENESIS_HASH, merkleRoot, sealHash } from '../src/audit/integrity/seal';
import { CheckpointSigner } from '../src/integrity/checkpoint-signer';
import { DatabaseVerifier } from '../src/integrity/database-verifier';
import { IntegrityService } from '../src/integrity/integrity.service';
import { IntegrityRepository } from '../src/integrity/integrity.repository';
import { Pool } from 'pg';
import { QueryRunner } from 'typeorm';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { flushAudit, startTestApp, token } from './support/test-app';

const BATCH = 20;

/**
 * `n` events for `org`, in batches of BATCH (the test app's batch size): flushed after every BATCH events,
 * since under load the writer merges waiting events into bigger batches. Returns their ids in order.
 */
async function recordFor(app: INestApplication, org: string, n: number): Promise<string[]> {
  const audit = app.get(AuditService);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % BATCH === 0) await flushAudit(app);
    const event = audit.record({
      action: 'update',
      resourceType: 'account',
      resourceId: `acc-${i}`,
      actor: { id: `user-${i % 3}`, type: 'user', organizationId: org },
      before: { plan: 'free', n: i, nested: { b: 1, a: [1, 'x'] } },
      after: { plan: 'pro', n: i, nested: { b: 2, a: [1, 'y'] }, ratio: 0.1 + i / 7, big: 1e21 },
      ip: i % 2 ? '2001:DB8:0:0:0:0:0:1' : '203.0.113.9',
      metadata: { note: `line\n\t"${i}" \\ é` },
    });
    ids.push(event!.id);
  }
  await flushAudit(app);
  return ids;
}

describe('tamper evidence', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let integrity: IntegrityService;
  let adminAll: string;

  /** What a superuser with write access does: the lifecycle switch lets UPDATE/DELETE through the trigger. */
  const tamper = async (sql: string, params: unknown[] = []) => {
    await db.sql.query('BEGIN');
    await db.sql.query(`SET LOCAL audit.lifecycle = 'on'`);
    await db.sql.query(sql, params);
    await db.sql.query('COMMIT');
  };

  const verify = async (org: string, query: Record<string, string> = {}) => {
    const res = await request(app.getHttpServer())
      .get('/audit/integrity/verify')
      .query({ organizationId: org, ...query })
      .set('Authorization', `Bearer ${adminAll}`);
    expect(res.status).toBe(200);
    return res.body;
  };

  /** What a forger who knows the canonical form computes: the hash of the row's canonical COPY line. */
  const forgeHash = async (id: string) => {
    const chunks: Buffer[] = [];
    const stream = db.sql.query(
      copyTo(`COPY (SELECT ${CANONICAL_COLUMNS_SQL} FROM audit_events e WHERE e.id = '${id}') TO STDOUT`),
    );
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const line = Buffer.concat(chunks);
    const hash = createHash('sha256')
      .update(line.subarray(0, line.length - 1))
      .digest();
    await tamper(`UPDATE audit_events SET event_hash = $2 WHERE id = $1`, [id, hash]);
  };

  /** A fresh chain of 3 batches for `org`, checkpointed. */
  const chainFor = async (org: string) => {
    const ids = await recordFor(app, org, 3 * BATCH);
    await integrity.chainAndSign();
    return ids;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url, { AUDIT_BATCH_SIZE: String(BATCH), AUDIT_FLUSH_CONCURRENCY: '1' });
    integrity = app.get(IntegrityService);
    adminAll = await token({ sub: 'root', org: 'ops', roles: ['audit:admin', 'audit:read:all'] });
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('verifies a clean chain: every event checked, against a signed checkpoint', async () => {
    const ids = await chainFor('org-clean');
    const body = await verify('org-clean');
    expect(body).toMatchObject({ ok: true, checkedEvents: ids.length, firstBroken: null });
    expect(body.chains[0]).toMatchObject({ checkedSeals: 3, sealsInRange: 3, unsignedSeals: 0 });
    expect(body.chains[0].checkpoint).toMatchObject({ seq: '3' });
    const { rows } = await db.sql.query(
      `SELECT count(DISTINCT batch_id)::int AS batches, count(*) FILTER (WHERE event_hash IS NULL)::int AS unhashed
         FROM audit_events WHERE organization_id = 'org-clean'`,
    );
    expect(rows[0]).toEqual({ batches: 3, unhashed: 0 });
  });

  it("hashes the line Postgres prints for each stored row to the writer's hash (states, escapes, IPv6)", async () => {
    const pool = new Pool({ connectionString: db.url, max: 1 });
    let same = 0;
    await new IntegrityRepository(pool).streamEvents(
      'org-clean',
      { fromMicros: null, toMicros: null },
      (e) => {
        if (e.storedHash?.equals(e.computedHash)) same++;
      },
    );
    await pool.end();
    expect(same).toBe(3 * BATCH);
  });

  it('verifies a time range: only the events in it, with the seals that hold them', async () => {
    const ids = await chainFor('org-range');
    const { rows } = await db.sql.query(
      `SELECT occurred_at FROM audit_events WHERE id = $1 AND organization_id = 'org-range'`,
      [ids[30]],
    );
    const from = new Date(rows[0].occurred_at.getTime()).toISOString();
    const body = await verify('org-range', { from });
    expect(body.ok).toBe(true);
    expect(body.checkedEvents).toBeGreaterThan(0);
    expect(body.checkedEvents).toBeLessThanOrEqual(3 * BATCH);
  });

  it('detects a modified state, at that event', async () => {
    const ids = await chainFor('org-state');
    await tamper(`UPDATE audit_events SET after = jsonb_set(after, '{plan}', '"enterprise"') WHERE id = $1`, [
      ids[25],
    ]);
    const body = await verify('org-state');
    expect(body.ok).toBe(false);
    expect(body.firstBroken).toMatchObject({
      kind: 'event',
      id: ids[25],
      reason: 'content does not match the event hash',
    });
  });

  it('detects a changed timestamp, at that event', async () => {
    const ids = await chainFor('org-time');
    await tamper(`UPDATE audit_events SET occurred_at = occurred_at - interval '1 second' WHERE id = $1`, [
      ids[7],
    ]);
    expect((await verify('org-time')).firstBroken).toMatchObject({ kind: 'event', id: ids[7] });
  });

  it('detects a deleted event, at the seal of its batch', async () => {
    const ids = await chainFor('org-delete');
    await tamper(`DELETE FROM audit_events WHERE id = $1`, [ids[45]]);
    expect((await verify('org-delete')).firstBroken).toEqual({
      kind: 'seal',
      id: 'org-delete#3',
      reason: `batch has ${BATCH - 1} events, the seal counts ${BATCH}`,
      organizationId: 'org-delete',
    });
  });

  it('detects a forged event with a valid hash: in a sealed batch at the seal, else as unsealed', async () => {
    const ids = await chainFor('org-forge');
    const copyAs = async (newId: string, batchSql: string) => {
      await tamper(
        `INSERT INTO audit_events (id, occurred_at, organization_id, actor_id, actor_type, action, event_type,
           resource_type, resource_id, before, after, changes, status, status_code, error_message, severity,
           request_id, ip, user_agent, route, method, duration_ms, metadata, batch_id)
         SELECT $2, occurred_at, organization_id, 'mallory', actor_type, action, event_type, resource_type,
           resource_id, before, after, changes, status, status_code, error_message, severity, request_id, ip,
           user_agent, route, method, duration_ms, metadata, ${batchSql}
           FROM audit_events WHERE id = $1`,
        [ids[3], newId],
      );
      // The forger knows the canonical form: the hash is right.
      await forgeHash(newId);
    };
    const inBatch = '01960000-0000-7000-8000-00000000f001';
    await copyAs(inBatch, 'batch_id');
    const body = await verify('org-forge');
    expect(body.firstBroken).toMatchObject({ kind: 'seal', id: 'org-forge#1' });
    expect(body.firstBroken.reason).toBe(`batch has ${BATCH + 1} events, the seal counts ${BATCH}`);

    await tamper(`DELETE FROM audit_events WHERE id = $1`, [inBatch]);
    const loose = '01960000-0000-7000-8000-00000000f002';
    await copyAs(loose, 'NULL');
    expect((await verify('org-forge')).firstBroken).toMatchObject({
      kind: 'event',
      id: loose,
      reason: 'event is not covered by any seal of its organization',
    });
  });

  it('detects two swapped events, at the first of them', async () => {
    const ids = await chainFor('org-swap');
    await tamper(
      `UPDATE audit_events a SET after = b.after, before = b.before, resource_id = b.resource_id
         FROM audit_events b WHERE (a.id, b.id) IN (($1::uuid, $2::uuid), ($2::uuid, $1::uuid))`,
      [ids[10], ids[11]],
    );
    expect((await verify('org-swap')).firstBroken).toMatchObject({ kind: 'event', id: ids[10] });
  });

  it('detects a whole batch deleted with its seal, at the next seal', async () => {
    await chainFor('org-batch');
    await tamper(
      `DELETE FROM audit_events WHERE batch_id = (SELECT batch_id FROM audit_seals WHERE org_key = 'org-batch' AND seq = 2)`,
    );
    await tamper(`DELETE FROM audit_seals WHERE org_key = 'org-batch' AND seq = 2`);
    expect((await verify('org-batch')).firstBroken).toMatchObject({
      kind: 'seal',
      id: 'org-batch#3',
      reason: 'seals 2..2 are missing from the chain',
    });
  });

  it('detects a chain rewritten consistently without the signing key, at the checkpoint', async () => {
    const ids = await chainFor('org-rewrite');
    // The attacker edits an event, recomputes its hash, the Merkle roots and every seal after it.
    await tamper(`UPDATE audit_events SET after = '{"plan": "free"}' WHERE id = $1`, [ids[5]]);
    await forgeHash(ids[5]);
    const pool = new Pool({ connectionString: db.url, max: 1 });
    const seals = await new IntegrityRepository(pool).seals('org-rewrite');
    await pool.end();
    let prev: Buffer = GENESIS_HASH;
    for (const seal of seals) {
      const { rows } = await db.sql.query(`SELECT id, event_hash FROM audit_events WHERE batch_id = $1`, [
        seal.batchId,
      ]);
      const body = {
        ...seal,
        merkleRoot: merkleRoot(rows.map((r) => ({ id: r.id, hash: r.event_hash }))),
        prevHash: prev,
      };
      prev = sealHash(body);
      await tamper(
        `UPDATE audit_seals SET merkle_root = $3, prev_hash = $4, seal_hash = $5 WHERE org_key = $1 AND seq = $2`,
        ['org-rewrite', seal.seq, body.merkleRoot, body.prevHash, prev],
      );
    }
    await tamper(`UPDATE audit_chain_heads SET seal_hash = $1 WHERE org_key = 'org-rewrite'`, [prev]);
    const body = await verify('org-rewrite');
    expect(body.firstBroken).toMatchObject({
      kind: 'checkpoint',
      reason: 'seal 3 differs from the signed one (chain rewritten)',
    });

    // Re-signing needs the private key: a checkpoint forged with another key is refused.
    await tamper(`UPDATE audit_checkpoints SET seal_hash = $1 WHERE org_key = 'org-rewrite'`, [prev]);
    expect((await verify('org-rewrite')).firstBroken).toMatchObject({
      kind: 'checkpoint',
      reason: 'signature is not valid',
    });
  });

  it('replays an already committed batch without duplicates or extra seals', async () => {
    const audit = app.get(AuditService);
    const pool = new Pool({ connectionString: db.url, max: 1 });
    const repository = new AuditEventRepository(pool);
    const events = Array.from({ length: 5 }, (_, i) =>
      audit.record({ action: 'login', actor: { id: `r${i}`, organizationId: 'org-replay' } }),
    );
    await flushAudit(app);
    const lines = events.map((e) => encodeEvent(e!));
    expect(await repository.copyIdempotent(lines)).toBe(0);
    // Not recorded through the app (whose writer would write it too): a new event built from another.
    const extra = { ...events[0]!, id: eventId(new Date()), actorId: 'late' };
    // A replay mixing committed events with one not yet written seals just the new one.
    await repository.copyIdempotent([...lines, encodeEvent(extra)]);
    await flushAudit(app);
    await pool.end();
    const { rows } = await db.sql.query(
      `SELECT (SELECT count(*)::int FROM audit_events WHERE organization_id = 'org-replay') AS events,
              (SELECT coalesce(sum(event_count), 0)::int FROM audit_seals WHERE org_key = 'org-replay') AS sealed`,
    );
    expect(rows[0].events).toBe(6);
    expect(rows[0].sealed).toBe(6);
    expect(await verify('org-replay')).toMatchObject({ ok: true, checkedEvents: 6 });
  });

  it('queues events captured inside an application transaction, reports them pending, then chains them', async () => {
    const audit = app.get(AuditService);
    const template = audit.record({ action: 'login', actor: { id: 'tx', organizationId: 'org-tx' } })!;
    await flushAudit(app);
    const event = { ...template, id: eventId(new Date()), action: 'update' };
    await db.sql.query('BEGIN');
    await AuditEventRepository.insertWithin(db.sql as unknown as QueryRunner, event);
    await db.sql.query('COMMIT');
    expect((await verify('org-tx')).chains[0]).toMatchObject({ pendingEvents: 1, checkedEvents: 2 });
    expect(await integrity.chainQueued()).toBe(1);
    const body = await verify('org-tx');
    expect(body).toMatchObject({ ok: true, checkedEvents: 2 });
    expect(body.chains[0]).toMatchObject({ pendingEvents: 0, checkedSeals: 2 });
  });

  it('limits an audit:admin to its own organization and validates the range', async () => {
    const own = await token({ sub: 'a', org: 'org-clean', roles: ['audit:admin'] });
    const server = app.getHttpServer();
    const mine = await request(server).get('/audit/integrity/verify').set('Authorization', `Bearer ${own}`);
    expect(mine.status).toBe(200);
    expect(mine.body.chains.map((c: { organizationId: string }) => c.organizationId)).toEqual(['org-clean']);
    const other = await request(server)
      .get('/audit/integrity/verify?organizationId=org-state')
      .set('Authorization', `Bearer ${own}`);
    expect(other.status).toBe(403);
    const reader = await token({ sub: 'r', org: 'org-clean', roles: ['audit:read'] });
    expect(
      (await request(server).get('/audit/integrity/verify').set('Authorization', `Bearer ${reader}`)).status,
    ).toBe(403);
    const bad = await request(server)
      .get('/audit/integrity/verify?from=yesterday')
      .set('Authorization', `Bearer ${own}`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('from');
  });

  it('publishes the public key that verifies the checkpoints', async () => {
    const res = await request(app.getHttpServer())
      .get('/audit/integrity/public-keys')
      .set('Authorization', `Bearer ${adminAll}`);
    expect(res.status).toBe(200);
    expect(res.body.items[0]).toMatchObject({ algorithm: 'Ed25519', current: true });
    const { rows } = await db.sql.query(`SELECT DISTINCT key_id FROM audit_checkpoints`);
    expect(rows.map((r) => r.key_id)).toEqual([res.body.items[0].keyId]);
  });
});

describe('tamper evidence with several app instances writing concurrently', () => {
  let db: TestDatabase;
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    for (let i = 0; i < 3; i++)
      apps.push(
        await startTestApp(db.url, {
          AUDIT_BATCH_SIZE: '25',
          AUDIT_FLUSH_CONCURRENCY: '3',
          AUDIT_FLUSH_INTERVAL_MS: '10',
        }),
      );
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await db?.drop();
  });

  it('forms one unbroken chain per organization, and verifies clean', async () => {
    const orgs = ['org-1', 'org-2', 'org-3', null];
    const perApp = 600;
    await Promise.all(
      apps.map(async (app, a) => {
        const audit = app.get(AuditService);
        for (let i = 0; i < perApp; i++) {
          audit.record({
            action: 'update',
            resourceType: 'doc',
            resourceId: `${a}-${i}`,
            actor: { id: `app-${a}`, organizationId: orgs[i % orgs.length] },
            after: { i, app: a },
          });
          if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
        await flushAudit(app);
      }),
    );
    const { rows } = await db.sql.query(
      `SELECT org_key, count(*)::int AS seals, max(seq)::int AS last, sum(event_count)::int AS events,
              count(DISTINCT prev_hash)::int AS parents
         FROM audit_seals GROUP BY org_key ORDER BY org_key`,
    );
    expect(rows.reduce((n, r) => n + r.events, 0)).toBe(3 * perApp);
    for (const row of rows) {
      expect(row.seals).toBe(row.last); // seq 1..n without gaps
      expect(row.parents).toBe(row.seals); // no two seals share a parent: no fork
    }
    expect(rows.length).toBe(4);
    const service = apps[1].get(IntegrityService);
    await service.chainAndSign();
    const root = await token({ sub: 'root', org: 'ops', roles: ['audit:admin', 'audit:read:all'] });
    const res = await request(apps[2].getHttpServer())
      .get('/audit/integrity/verify')
      .set('Authorization', `Bearer ${root}`);
    expect(res.body).toMatchObject({ ok: true, checkedEvents: 3 * perApp, firstBroken: null });
    expect(res.body.chains).toHaveLength(4);
    expect(res.body.chains.every((c: { unsignedSeals: number }) => c.unsignedSeals === 0)).toBe(true);
  });

  it('verifies clean while the instances keep writing (chains and events read in one snapshot)', async () => {
    let writing = true;
    const writers = apps.map(async (app, a) => {
      const audit = app.get(AuditService);
      for (let i = 0; writing; i++) {
        audit.record({
          action: 'update',
          resourceType: 'doc',
          resourceId: `live-${a}-${i}`,
          actor: { id: `app-${a}`, organizationId: i % 2 ? 'org-1' : 'org-2' },
          after: { i },
        });
        if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await flushAudit(app);
    });
    const service = apps[0].get(IntegrityService);
    const root = { sub: 'root', org: null, roles: ['audit:admin', 'audit:read:all'] };
    // Also with the events read by two COPY streams (the second one joins the first one's snapshot),
    // which production only uses past 50k events per stream.
    const pool = new Pool({ connectionString: db.url, max: 4 });
    const twoStreams = new DatabaseVerifier(
      new IntegrityRepository(pool),
      apps[0].get(CheckpointSigner).publicKeys,
      2,
      100,
    );
    const exported = jest.spyOn(IntegrityRepository.prototype, 'exportSnapshot');
    try {
      for (let run = 0; run < 10; run++) {
        const report = await service.verify(root, {});
        expect(report.firstBroken).toBeNull();
        expect(report.ok).toBe(true);
        const parallel = await twoStreams.verify({});
        expect(parallel.firstBroken).toBeNull();
        expect(parallel.checkedEvents).toBeGreaterThan(3 * 600);
      }
      expect(exported).toHaveBeenCalledTimes(10); // every parallel run did read with a second stream
    } finally {
      writing = false;
      exported.mockRestore();
      await Promise.all(writers);
      await pool.end();
    }
    const { rows } = await db.sql.query(
      `SELECT count(*)::int AS n FROM audit_events WHERE resource_id LIKE 'live-%'`,
    );
    expect(rows[0].n).toBeGreaterThan(100); // the writers did write while verification ran
  });
});
