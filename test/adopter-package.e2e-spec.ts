import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import {
  installedCopies,
  REPO_ROOT,
  REPO_TSC,
  run,
  SINGLETON_PEERS,
  unresolvedRequires,
  writeAdopterApp,
} from './support/adopter/adopter-app';
import { countOf, launchChromium, textOf } from './support/browser';
import { databaseUrl, TEMPLATE_FILE, TEST_ADMIN_URL, TEST_DB_PREFIX } from './support/env';
import { freePort, ServiceProcess } from './support/process';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

/**
 * Issue 19 item 6: a NestJS team adopts the package from its tarball, as from the registry. A throwaway app in
 * a temporary directory (no path into this repository) installs the packed tarball beside its own peers,
 * compiles against the shipped declarations, migrates an empty database with the shipped bin, and runs as a
 * real process: @Audited() capture, the admin API behind its own guard, its own health probe, clean shutdown.
 * Fails when the tarball misses a file the app needs, needs a path alias, or brings a second copy of a peer.
 */
jest.setTimeout(8 * 60_000);

const log = (line: string) => console.log(`[adopter] ${line}`);
const ALLOWED_ENTRIES = [
  /^dist\/src\//,
  /^dist\/migrations\//,
  /^dist\/viewer\//,
  /^package\.json$/,
  /^README\.md$/,
  /^LICENSE$/,
  /^SECURITY\.md$/,
];

const EMAIL = 'ada.lovelace.4471@example.org';
const NEW_EMAIL = 'countess.4471@example.net';
const PHONE = '+44 20 7946 0813';
const B_EMAIL = 'babbage.9182@example.com';
const B_PHONE = '+44 20 7946 0999';

const aliceA = { sub: 'alice', org: 'org-a', roles: [] };
const bobB = { sub: 'bob', org: 'org-b', roles: [] };
const readerA = { sub: 'auditor-a', org: 'org-a', roles: ['audit:read'] };
const readerB = { sub: 'auditor-b', org: 'org-b', roles: ['audit:read'] };

/** Runs the app's compiled main.js as its own process, with only the given environment, in the app's directory. */
function startApp(script: string, env: NodeJS.ProcessEnv): ServiceProcess {
  const child = spawn(process.execPath, [script], { cwd: join(script, '..', '..'), env, stdio: 'pipe' });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  return { child, output: () => output, exited };
}

/** Polls until `url` answers at all (the readiness probe may still say 503) or the process exits. */
async function waitForAnswer(url: string, app: ServiceProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void app.exited.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    const answered = await fetch(url).then(
      () => true,
      () => false, // not listening yet
    );
    if (answered) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the app did not answer at ${url}:\n${app.output()}`);
}

describe('Adopting the package: a NestJS app built on the packed tarball', () => {
  const work = realpathSync(mkdtempSync(join(tmpdir(), 'adopter-'))); // resolved paths are real paths
  const appDir = join(work, 'invoices-app');
  let tarball: string | undefined;
  let installed = false;
  let compiled = false;
  let dbName: string | undefined;
  let dbUrl: string | undefined;
  let sql: Client | undefined;
  let service: ServiceProcess | undefined;
  let base = '';

  const api = async (method: string, path: string, user: object | null, body?: object) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(user ? { 'x-user': JSON.stringify(user) } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Json };
  };
  const need = (ready: unknown, step: string) => {
    if (!ready) throw new Error(`not run: ${step} failed earlier`);
  };

  afterAll(async () => {
    if (service && service.child.exitCode === null && service.child.signalCode === null)
      service.child.kill('SIGKILL');
    await sql?.end().catch(() => undefined);
    if (dbName) {
      const admin = new Client({ connectionString: TEST_ADMIN_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).finally(() => admin.end());
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('packs the built dist: only the compiled package, its declarations and its docs', async () => {
    for (const file of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/nest-audit-trail.js']) {
      if (!existsSync(join(REPO_ROOT, file))) throw new Error(`${file} is missing: run npm run build first`);
    }
    const started = Date.now();
    const packDir = join(work, 'pack');
    mkdirSync(packDir);
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], {
      cwd: REPO_ROOT,
      timeoutMs: 120_000,
    });
    expect({ code: packed.code, stderr: packed.code === 0 ? '' : packed.stderr }).toEqual({
      code: 0,
      stderr: '',
    });
    const [pack] = JSON.parse(packed.stdout) as Array<{
      filename: string;
      size: number;
      unpackedSize: number;
      entryCount: number;
      files: Array<{ path: string }>;
    }>;
    const paths = pack.files.map((f) => f.path);
    log(
      `packed ${pack.filename}: ${pack.entryCount} files, ${(pack.size / 1024).toFixed(0)} KiB ` +
        `(${(pack.unpackedSize / 1024).toFixed(0)} KiB unpacked) in ${Date.now() - started} ms`,
    );
    expect(pack.entryCount).toBe(paths.length);
    expect(paths.filter((path) => !ALLOWED_ENTRIES.some((allowed) => allowed.test(path)))).toEqual([]);
    expect(paths.filter((path) => /(^|\/)(test|bench|demo)\//.test(path) || /\.spec\./.test(path))).toEqual(
      [],
    );
    expect(paths.filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'))).toEqual([]);
    expect(paths).toEqual(
      expect.arrayContaining([
        'package.json',
        'dist/src/index.js',
        'dist/src/index.d.ts',
        'dist/src/cli/nest-audit-trail.js',
        'dist/migrations/index.js',
        'dist/viewer/index.html',
      ]),
    );
    // A sanity bound on the size: the compiled package, not the repository (a few hundred KiB today).
    expect(pack.size).toBeLessThan(5 * 1024 * 1024);
    tarball = join(packDir, pack.filename);
    expect(existsSync(tarball)).toBe(true);
  });

  it('installs into a fresh app with exactly one copy of each peer', async () => {
    need(tarball, 'npm pack');
    // skipLibCheck off: the shipped declarations type-check in an app without the optional peers (no ioredis
    // here), with only what an express Nest app has (@types/express, @types/node).
    writeAdopterApp(appDir, tarball!, false);
    const started = Date.now();
    log("npm install in the app (peers pinned to this repo's versions, from the npm cache)...");
    const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: appDir,
      env: { ...process.env, npm_config_loglevel: 'error' },
      timeoutMs: 5 * 60_000,
    });
    log(`npm install: exit ${install.code} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect({ code: install.code, stderr: install.code === 0 ? '' : install.stderr }).toEqual({
      code: 0,
      stderr: '',
    });

    const packageDir = join(appDir, 'node_modules', 'nest-audit-trail');
    // Installed from the tarball (a copy), not linked back into this repository.
    expect(lstatSync(packageDir).isSymbolicLink()).toBe(false);
    expect(existsSync(join(packageDir, 'src'))).toBe(false);
    // Node's own resolution from the app (Jest's would apply this repo's moduleNameMapper).
    const resolved = await run(
      process.execPath,
      [
        '-p',
        `JSON.stringify(${JSON.stringify(['nest-audit-trail', ...SINGLETON_PEERS])}.map((name) => require.resolve(name)))`,
      ],
      { cwd: appDir },
    );
    const outside = (JSON.parse(resolved.stdout) as string[]).filter(
      (path) => !path.startsWith(join(appDir, 'node_modules')),
    );
    expect(outside).toEqual([]);
    const copies = installedCopies(join(appDir, 'node_modules'), SINGLETON_PEERS);
    const expected = Object.fromEntries(SINGLETON_PEERS.map((name) => [name, [`node_modules/${name}`]]));
    expect(copies).toEqual(expected);
    expect(existsSync(join(appDir, 'node_modules', '.bin', 'nest-audit-trail'))).toBe(true);

    // Every require of the shipped files resolves inside the tarball or to a declared dependency or peer.
    expect(unresolvedRequires(packageDir)).toEqual({ missingFiles: [], undeclared: [] });
    installed = true;
  });

  it("compiles the app's TypeScript against the shipped declarations (strict)", async () => {
    need(installed, 'npm install');
    const started = Date.now();
    log('tsc -p invoices-app/tsconfig.json...');
    const tsc = await run(process.execPath, [REPO_TSC, '-p', 'tsconfig.json'], {
      cwd: appDir,
      timeoutMs: 180_000,
    });
    log(`tsc: exit ${tsc.code} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect({ code: tsc.code, output: tsc.code === 0 ? '' : tsc.stdout + tsc.stderr }).toEqual({
      code: 0,
      output: '',
    });
    expect(existsSync(join(appDir, 'dist', 'main.js'))).toBe(true);
    compiled = true;
  });

  it('migrates an empty database with the shipped bin: the audit schema only, idempotent', async () => {
    need(installed, 'npm install');
    const admin = new Client({ connectionString: TEST_ADMIN_URL });
    await admin.connect();
    try {
      const template = process.env.AUDIT_TEST_TEMPLATE ?? readFileSync(TEMPLATE_FILE, 'utf8').trim();
      const prefix = template.startsWith(TEST_DB_PREFIX) ? template.replace(/_tpl$/, '') : TEST_DB_PREFIX;
      dbName = `${prefix}_adopter_${randomBytes(4).toString('hex')}`;
      await admin.query(`CREATE DATABASE "${dbName}"`); // empty: not the migrated template
    } finally {
      await admin.end();
    }
    dbUrl = databaseUrl(dbName);
    sql = new Client({ connectionString: dbUrl });
    await sql.connect();
    const rolesBefore = (await sql.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map(
      (r) => r.rolname,
    );

    const bin = join(appDir, 'node_modules', '.bin', 'nest-audit-trail');
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: dbUrl };
    const started = Date.now();
    log('nest-audit-trail migrate on an empty database...');
    const first = await run(bin, ['migrate'], { cwd: appDir, env, timeoutMs: 120_000 });
    log(
      `migrate: exit ${first.code} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${first.stdout.trim()}`,
    );
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' });
    expect(first.stdout).toMatch(/^Applied CreateAuditEvents1795390000000, /);

    const tables = async (...names: string[]) =>
      (
        await sql!.query<{ t: string | null }>(
          `SELECT to_regclass(t)::text AS t FROM unnest($1::text[]) AS t`,
          [names],
        )
      ).rows.map((r) => r.t);
    expect(await tables('audit_events', 'schema_migrations')).toEqual(['audit_events', 'schema_migrations']);
    expect(await tables('accounts', 'invoices')).toEqual([null, null]); // no demo table
    // No role made, none granted anything: roles are the optional `create-role` command's business.
    const rolesAfter = (await sql.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map(
      (r) => r.rolname,
    );
    // (append-only.e2e-spec.ts makes its own audit_app_<hex> role: another run of it may be under way.)
    const otherRuns = /^audit_app_[0-9a-f]{8}$/;
    expect(rolesAfter.filter((name) => !rolesBefore.includes(name) && !otherRuns.test(name))).toEqual([]);
    const grants = await sql.query(
      `SELECT DISTINCT grantee FROM information_schema.role_table_grants
        WHERE table_schema = 'public' AND grantee NOT IN (current_user, 'PUBLIC')`,
    );
    expect(grants.rows).toEqual([]);

    const again = await run(bin, ['migrate'], { cwd: appDir, env, timeoutMs: 120_000 });
    expect({ code: again.code, stdout: again.stdout.trim(), stderr: again.stderr }).toEqual({
      code: 0,
      stdout: 'The audit schema is up to date',
      stderr: '',
    });

    // The app's own migration.
    await sql.query(`
      CREATE TABLE invoices (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id text NOT NULL,
        number text NOT NULL,
        customer_email text NOT NULL,
        billing_phone text NOT NULL,
        amount integer NOT NULL,
        status text NOT NULL DEFAULT 'draft'
      )`);
  });

  describe('the app running as a process', () => {
    let invoiceA = '';
    let invoiceA2 = '';
    let invoiceB = '';
    let eventsA: Json[] = [];

    const eventsFor = async (reader: object, expected: number) => {
      const deadline = Date.now() + 20_000;
      let items: Json[] = [];
      while (Date.now() < deadline) {
        const res = await api('GET', '/admin/audit/events?resourceType=invoice&limit=100', reader);
        expect(res.status).toBe(200);
        items = res.body.items as Json[];
        if (items.length >= expected) return items;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`expected ${expected} invoice events, got ${items.length}: ${JSON.stringify(items)}`);
    };

    beforeAll(async () => {
      need(compiled && sql, 'compile or migrate');
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      // The app's environment only: nothing of this repo's (no AUDIT_*, no demo settings).
      service = startApp(join(appDir, 'dist', 'main.js'), {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: dbUrl,
        PORT: String(port),
        APP_PERSONAL_DATA_KEY: randomBytes(32).toString('hex'),
        APP_SPOOL_DIR: join(work, 'spool'),
      });
      await waitForAnswer(`${base}/health`, service, 60_000);
      log(`app up on ${base}`);

      expect((await api('POST', '/invoices', null, { number: 'X' })).status).toBe(401);
      const a1 = await api('POST', '/invoices', aliceA, {
        number: 'INV-A-1',
        customerEmail: EMAIL,
        billingPhone: PHONE,
        amount: 1200,
      });
      expect(a1.status).toBe(201);
      invoiceA = a1.body.id as string;
      expect((await api('GET', `/invoices/${invoiceA}`, aliceA)).status).toBe(200);
      const patched = await api('PATCH', `/invoices/${invoiceA}`, aliceA, {
        customerEmail: NEW_EMAIL,
        amount: 1500,
        status: 'sent',
      });
      expect(patched.status).toBe(200);
      const a2 = await api('POST', '/invoices', aliceA, {
        number: 'INV-A-2',
        customerEmail: EMAIL,
        billingPhone: PHONE,
        amount: 99,
      });
      invoiceA2 = a2.body.id as string;
      expect((await api('DELETE', `/invoices/${invoiceA2}`, aliceA)).status).toBe(204);
      const list = await api('GET', '/invoices', aliceA);
      expect(list.body.map((i: Json) => i.number)).toEqual(['INV-A-1']);

      const b1 = await api('POST', '/invoices', bobB, {
        number: 'INV-B-1',
        customerEmail: B_EMAIL,
        billingPhone: B_PHONE,
        amount: 5000,
      });
      expect(b1.status).toBe(201);
      invoiceB = b1.body.id as string;
      // Tenant-scoped by the app: org-a cannot read org-b's invoice.
      expect((await api('GET', `/invoices/${invoiceB}`, aliceA)).status).toBe(404);
      expect((await api('GET', `/invoices/${invoiceB}`, bobB)).status).toBe(200);

      // org-a: create x2, read, update, delete, list, and the failed read of org-b's invoice (404).
      eventsA = await eventsFor(readerA, 7);
    });

    it("records @Audited() events with the guard's actor and organization", () => {
      expect(eventsA).toHaveLength(7);
      const summary = eventsA
        .map(
          (e) =>
            `${e.action} ${e.status} ${e.statusCode} ${e.resourceId === invoiceA ? 'A1' : e.resourceId === invoiceA2 ? 'A2' : e.resourceId === invoiceB ? 'B1' : e.resourceId}`,
        )
        .sort();
      expect(summary).toEqual(
        [
          'create success 201 A1',
          'create success 201 A2',
          'read success 200 A1',
          'update success 200 A1',
          'delete success 204 A2',
          'list success 200 null',
          'read failure 404 B1',
        ].sort(),
      );
      for (const event of eventsA) {
        expect(event).toMatchObject({
          actorId: 'alice',
          actorType: 'user',
          organizationId: 'org-a',
          resourceType: 'invoice',
        });
      }
    });

    it('records the update with its diff and before/after states, personal data readable through the API', () => {
      const update = eventsA.find((e) => e.action === 'update')!;
      expect(update.before).toMatchObject({
        number: 'INV-A-1',
        customerEmail: EMAIL,
        billingPhone: PHONE,
        amount: 1200,
        status: 'draft',
      });
      expect(update.after).toMatchObject({
        number: 'INV-A-1',
        customerEmail: NEW_EMAIL,
        billingPhone: PHONE,
        amount: 1500,
        status: 'sent',
      });
      expect([...(update.changes as Json[])].sort((a, b) => a.path.localeCompare(b.path))).toEqual([
        { path: 'amount', before: 1200, after: 1500 },
        { path: 'customerEmail', before: EMAIL, after: NEW_EMAIL },
        { path: 'status', before: 'draft', after: 'sent' },
      ]);
      const deleted = eventsA.find((e) => e.action === 'delete')!;
      expect(deleted.before).toMatchObject({ id: invoiceA2, number: 'INV-A-2', customerEmail: EMAIL });
    });

    it("keeps organizations apart: org-a's reader never sees org-b's events, and the reverse", async () => {
      expect(JSON.stringify(eventsA)).not.toContain(B_EMAIL);
      expect(eventsA.filter((e) => e.organizationId !== 'org-a' || e.actorId === 'bob')).toEqual([]);
      const eventsB = await eventsFor(readerB, 2);
      expect(
        eventsB.map((e) => `${e.action} ${e.actorId} ${e.organizationId} ${e.resourceId}`).sort(),
      ).toEqual([`create bob org-b ${invoiceB}`, `read bob org-b ${invoiceB}`].sort());
      const asB = await api('GET', `/admin/audit/resources/invoice/${invoiceA}/history`, readerB);
      expect(asB.status).toBe(200);
      expect(asB.body.items).toEqual([]);
      // The admin API sits behind the app's guard, then its own roles.
      expect((await api('GET', '/admin/audit/events', null)).status).toBe(401);
      expect((await api('GET', '/admin/audit/events', aliceA)).status).toBe(403);
    });

    it("serves a resource's history, oldest first", async () => {
      const res = await api('GET', `/admin/audit/resources/invoice/${invoiceA}/history`, readerA);
      expect(res.status).toBe(200);
      const items = res.body.items as Json[];
      expect(items.map((e) => e.action)).toEqual(['create', 'read', 'update']);
      const times = items.map((e) => Date.parse(e.occurredAt));
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      expect(items[0].after).toMatchObject({ customerEmail: EMAIL, billingPhone: PHONE, amount: 1200 });
    });

    it("serves the viewer under the app's own admin prefix, behind the app's own identity", async () => {
      const page = await fetch(`${base}/admin/audit/ui`, { headers: { 'x-user': JSON.stringify(readerA) } });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('<meta name="audit-api" content="/admin/audit" />');
      const script = /src="(\/admin\/audit\/ui\/assets\/app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
      expect(script).toBeDefined();
      const asset = await fetch(`${base}${script}`, { headers: { 'x-user': JSON.stringify(readerA) } });
      expect([asset.status, asset.headers.get('content-type')]).toEqual([
        200,
        'text/javascript; charset=utf-8',
      ]);
      // The app's global guard runs first, as for any of its routes.
      expect((await fetch(`${base}/admin/audit/ui`)).status).toBe(401);

      // In a browser, the identity the app's own session gives (here its `x-user` cookie): no token to paste.
      const browser = await launchChromium();
      try {
        const context = await browser.newContext({ acceptDownloads: true });
        await context.addCookies([
          { name: 'x-user', value: encodeURIComponent(JSON.stringify(readerA)), url: base },
        ]);
        const tab = await context.newPage();
        await tab.goto(`${base}/admin/audit/ui/?resourceType=invoice&resourceId=${invoiceA}`);
        const rows = tab.locator('[role=grid] [role=row]');
        await countOf(rows, 3);
        await rows.filter({ hasText: 'update' }).click();
        const email = tab.locator('table.diff tr[data-field="customerEmail"]');
        await textOf(email, NEW_EMAIL);
        expect(await email.getAttribute('class')).toContain('changed');
        expect(await email.locator('td.before').innerText()).toBe(EMAIL);

        // No token in the page: the export is a plain download (the cookie goes with it), streamed to disk.
        await tab.goBack();
        await countOf(rows, 3);
        const [download] = await Promise.all([
          tab.waitForEvent('download'),
          tab.getByRole('button', { name: 'Export NDJSON' }).click(),
        ]);
        const lines = readFileSync((await download.path())!, 'utf8')
          .trim()
          .split('\n');
        expect(lines.map((line) => (JSON.parse(line) as Json).action).sort()).toEqual([
          'create',
          'read',
          'update',
        ]);
      } finally {
        await browser.close();
      }
    });

    it('stores customerEmail and billingPhone only as ciphertext', async () => {
      const { rows } = await sql!.query(
        `SELECT action, before::text AS before, after::text AS after, changes::text AS changes
           FROM audit_events WHERE resource_type = 'invoice'`,
      );
      expect(rows).toHaveLength(9);
      const stored = JSON.stringify(rows);
      for (const plain of [EMAIL, NEW_EMAIL, PHONE, B_EMAIL, B_PHONE]) expect(stored).not.toContain(plain);
      const create = rows.find((r) => r.action === 'create' && r.after.includes('INV-A-1'))!;
      expect(create.after).toMatch(/"customerEmail": "pii:v1:/);
      expect(create.after).toMatch(/"billingPhone": "pii:v1:/);
      expect(create.after).toContain('"amount": 1200'); // not personal: stays searchable
    });

    it('answers its own health probe with the audit indicators up', async () => {
      const deadline = Date.now() + 20_000;
      let res = await api('GET', '/health', null);
      while (res.status !== 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        res = await api('GET', '/health', null);
      }
      expect({ status: res.status, body: res.body }).toMatchObject({
        status: 200,
        body: {
          status: 'ok',
          info: {
            database: { status: 'up' },
            auditPipeline: { status: 'up' },
            auditLag: { status: 'up' },
            auditPartitions: { status: 'up' },
          },
        },
      });
    });

    it('shuts down cleanly on SIGTERM, draining the last events', async () => {
      expect((await api('GET', `/invoices/${invoiceA}`, aliceA)).status).toBe(200);
      const started = Date.now();
      service!.child.kill('SIGTERM');
      const exit = await Promise.race([
        service!.exited,
        new Promise((r) => setTimeout(() => r('still running after 10 s'), 10_000)),
      ]);
      log(`SIGTERM: exit ${String(exit)} after ${Date.now() - started} ms`);
      // Nest closes the app, then re-raises the signal: a clean exit "by SIGTERM", as Kubernetes expects.
      const output = service!.output();
      expect({ exit, errors: output.split('\n').filter((line) => /\bERROR\b|Error:/.test(line)) }).toEqual({
        exit: 'SIGTERM',
        errors: [],
      });
      const { rows } = await sql!.query(
        `SELECT count(*)::int AS n FROM audit_events WHERE resource_type = 'invoice' AND action = 'read' AND resource_id = $1`,
        [invoiceA],
      );
      expect(rows[0].n).toBe(2);
    });
  });
});
