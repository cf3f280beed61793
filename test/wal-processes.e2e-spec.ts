import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { Client } from 'pg';
import { TEST_JWT_SECRET } from './support/env';
import { Scrape } from './support/metrics';
import { createOwnDatabase, OwnPostgres, startOwnPostgres } from './support/own-services';
import { patchAccount } from './support/patch-account';
import { pollUntil } from './support/poll';
import { freePort, ServiceProcess, startService, waitForHttp } from './support/process';
import { token } from './support/test-app';

/**
 * The `wal` mode across processes: two demo services on one Postgres (wal_level=logical), each putting its
 * requests' context into the WAL, one of them reading the slot and the other standing by. Under load, the one
 * reading the slot is killed with SIGKILL; the other takes the slot over and resumes from the last confirmed LSN.
 * Every PATCH answered 2xx then has exactly one event with its request id (0 lost, 0 duplicated), and every
 * organization's chain verifies.
 */
const ORGS = ['org-wal-a', 'org-wal-b'];
const ACCOUNTS = 6;
const TOTAL = 1_500;
const KILL_AFTER = 500;

jest.setTimeout(300_000);

describe('wal capture across processes: the slot reader killed mid-stream', () => {
  let pg: OwnPostgres;
  let url: string;
  let sql: Client;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    pg = await startOwnPostgres({ logical: true });
    url = await createOwnDatabase(pg, 'wal_processes');
  });
  afterAll(async () => {
    for (const service of services.splice(0)) service.child.kill('SIGKILL');
    await sql?.end();
    await pg?.destroy();
  });

  const start = async () => {
    const port = await freePort();
    const service = startService({
      PORT: String(port),
      DATABASE_URL: url,
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'warn',
      DEMO_AUDIT_CONSISTENCY: 'wal',
      AUDIT_STREAMING: 'off',
    });
    services.push(service);
    await waitForHttp(`http://127.0.0.1:${port}/health/live`, service);
    return { port, service };
  };
  const consuming = async (port: number) =>
    new Scrape(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).value(
      'audit_wal_consumer_connected',
    ) === 1;

  it('keeps every acknowledged change exactly once, and the chains verify', async () => {
    // One at a time: the first migrates and sets up the slot.
    const first = await start();
    const second = await start();
    sql = new Client({ connectionString: url });
    await sql.connect();
    const both = [first, second];
    const reader = await pollUntil(
      'one process reading the slot',
      async () => {
        const flags = await Promise.all(both.map((s) => consuming(s.port)));
        return flags.filter(Boolean).length === 1 ? both[flags.indexOf(true)] : undefined;
      },
      30_000,
    );
    const standby = reader === first ? second : first;

    const bearers = await Promise.all(ORGS.map((org) => token({ sub: `u-${org}`, org })));
    const targets: Array<{ port: number; bearer: string; account: string }> = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const bearer = bearers[i % ORGS.length];
      const created = await fetch(`http://127.0.0.1:${standby.port}/accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: `w${i}`,
          email: `w${i}@example.com`,
          plan: 'free',
          password: 'secret-pass',
        }),
      });
      expect(created.status).toBe(201);
      const account = ((await created.json()) as { id: string }).id;
      // Requests go to both processes: the one about to die too (its answered ones must not be lost).
      for (const { port } of both) targets.push({ port, bearer, account });
    }

    const agent = new Agent({ keepAlive: true, maxSockets: targets.length });
    const ok: string[] = [];
    let sent = 0;
    let killed = false;
    const loop = async (target: (typeof targets)[number]) => {
      while (sent < TOTAL) {
        if (target.port === reader.port && killed) return; // its process is gone: the others go on
        const i = sent++;
        const requestId = `wal-${i}-${randomBytes(4).toString('hex')}`;
        if (await patchAccount(agent, target, requestId, `name ${i}`)) ok.push(requestId);
        if (!killed && sent >= KILL_AFTER) {
          killed = true;
          reader.service.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(targets.map(loop));
    agent.destroy();
    expect(await reader.service.exited).toBe('SIGKILL');
    expect(ok.length).toBeGreaterThan(TOTAL / 2);

    // The standby took the slot over and stored everything.
    await pollUntil(
      'the standby reading the slot',
      async () => ((await consuming(standby.port)) ? true : undefined),
      30_000,
    );
    const counts = await pollUntil(
      'an event for every answered PATCH',
      async () => {
        const { rows } = await sql.query<{ request_id: string; n: number }>(
          `SELECT request_id, count(*)::int AS n FROM audit_events
            WHERE action = 'update' AND request_id = ANY($1) GROUP BY request_id`,
          [ok],
        );
        return rows.length === ok.length ? rows : undefined;
      },
      90_000,
    );
    const { rows: duplicated } = await sql.query(
      `SELECT metadata->'wal'->>'lsn' AS lsn, resource_id FROM audit_events
        WHERE action = 'update' GROUP BY 1, 2 HAVING count(*) > 1`,
    );
    expect({
      answered: counts.length,
      eventsOtherThanOne: counts.filter((row) => row.n !== 1).length,
      duplicatedChanges: duplicated.length,
    }).toEqual({ answered: ok.length, eventsOtherThanOne: 0, duplicatedChanges: 0 });
    // Nothing else: every update event is one committed PATCH (some answered to a client that died with
    // the killed process may be there too, each once).
    const { rows: updates } = await sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_events WHERE action = 'update'`,
    );
    expect(updates[0].n).toBeGreaterThanOrEqual(ok.length);
    expect(updates[0].n).toBeLessThanOrEqual(ok.length + targets.length);

    const root = await token({ sub: 'root', roles: ['audit:admin', 'audit:read:all'] });
    const verify = await fetch(`http://127.0.0.1:${standby.port}/audit/integrity/verify`, {
      headers: { authorization: `Bearer ${root}` },
    });
    expect(verify.status).toBe(200);
    const report = (await verify.json()) as {
      ok: boolean;
      checkedEvents: number;
      chains: Array<{ organizationId: string }>;
    };
    expect(report.ok).toBe(true);
    expect(report.checkedEvents).toBeGreaterThanOrEqual(ok.length);
    expect(report.chains.map((chain) => chain.organizationId)).toEqual(expect.arrayContaining(ORGS));

    // Readiness reports the slot, caught up and read by the survivor.
    const ready = await pollUntil(
      'readiness with the slot caught up',
      async () => {
        const response = await fetch(`http://127.0.0.1:${standby.port}/health/ready`);
        const body = (await response.json()) as {
          details?: { walSlot?: { status: string; lagBytes: number; consuming: boolean } };
        };
        const slot = body.details?.walSlot;
        return response.status === 200 && slot && slot.lagBytes < 65_536 ? slot : undefined;
      },
      30_000,
    );
    expect(ready).toMatchObject({
      status: 'up',
      consuming: true,
      slot: 'nest_audit_wal',
      walStatus: 'reserved',
    });
  });
});
