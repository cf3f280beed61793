import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { join } from 'node:path';

/** Held by one process for a spool directory until `release()` (or until the process dies, however). */
export interface SpoolLock {
  release(): void;
}

/** Another live process holds the directory. `holder` is the pid it recorded, when known. */
export class SpoolLockedError extends Error {
  constructor(
    readonly directory: string,
    readonly holder: number | undefined,
  ) {
    super(
      `The audit spool directory ${directory} is in use by process ${holder ?? '(unknown)'}: give each process its own AUDIT_SPOOL_DIR`,
    );
  }
}

/** How long a new process waits for a holder that is already exiting (a kill -9 tearing down its memory). */
const EXITING_HOLDER_WAIT_MS = 5_000;
/** The holder's pid, for the error message and for operators; the lock itself is the socket. */
const PID_FILE = 'spool.lock';
/** Linux `PF_EXITING` (the `flags` field of /proc/<pid>/stat): set once a process has begun to die. */
const PF_EXITING = 0x4;

/** Locks held by this process, by socket name: a second spool on the same directory in one process takes it over. */
const heldHere = new Map<string, { server: Server; owner: object }>();

/**
 * One process per spool directory: two would replay each other's segments.
 *
 * The lock is a listening Unix socket in Linux's abstract namespace, named after the directory's device and
 * inode. The kernel frees the name when its holder's last descriptor closes, which happens while a killed
 * process exits, before it is a zombie: a lock cannot outlive its holder, and a PID reused by an unrelated
 * process never looks like one. (The PID file this replaces, checked with kill(pid, 0), was also passed by a
 * dying process, a zombie and a recycled PID, so a restart right after a kill -9 was refused.) Node has no
 * flock(2) in core and the npm bindings are native; binding a socket needs neither and is synchronous, which
 * the spool's constructor needs. A holder that is already exiting (its memory still being freed) is waited for
 * a few seconds. Limits: the name is scoped to the network namespace, so processes in different containers
 * sharing one volume do not see each other's lock. Elsewhere than Linux, the PID file alone is the lock.
 */
export function lockSpoolDirectory(directory: string, waitMs = EXITING_HOLDER_WAIT_MS): SpoolLock {
  if (process.platform !== 'linux') return lockWithPidFile(directory);
  const { dev, ino } = statSync(directory);
  const name = `\0nest-audit-trail/spool/${dev}:${ino}`;
  const owner = {};
  const mine = heldHere.get(name);
  if (mine) {
    mine.owner = owner;
  } else {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const server = tryListen(name);
      if (server) {
        heldHere.set(name, { server, owner });
        break;
      }
      const holder = recordedHolder(directory);
      if (holder === undefined || processState(holder) === 'running' || Date.now() >= deadline) {
        throw new SpoolLockedError(directory, holder);
      }
      sleepSync(25);
    }
  }
  writeFileSync(join(directory, PID_FILE), String(process.pid), { mode: 0o600 });
  return {
    release: () => {
      const entry = heldHere.get(name);
      if (entry?.owner !== owner) return; // taken over by a later spool in this process
      heldHere.delete(name);
      entry.server.close();
      removePidFile(directory);
    },
  };
}

/** Binds synchronously (Node binds a pipe before `listen` returns; the error, if any, follows on a later tick). */
function tryListen(name: string): Server | null {
  const server = createServer();
  server.on('error', () => undefined); // EADDRINUSE: reported through `listening` instead
  // `exclusive`: bind in this process even in a cluster worker, where the primary would bind asynchronously.
  server.listen({ path: name, exclusive: true });
  if (!server.listening) return null;
  server.unref(); // the lock does not keep the process alive
  return server;
}

function recordedHolder(directory: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(directory, PID_FILE), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined; // not written yet by a holder that has just bound
  }
}

/** From /proc/<pid>/stat: `exiting` once the kernel is tearing it down, `gone` when dead or a zombie. */
function processState(pid: number): 'running' | 'exiting' | 'gone' {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 'gone';
  }
  // pid (comm) state ppid pgrp session tty_nr tpgid flags ...; comm may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return 'gone';
  return Number(fields[6]) & PF_EXITING ? 'exiting' : 'running';
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function removePidFile(directory: string): void {
  try {
    if (readFileSync(join(directory, PID_FILE), 'utf8').trim() === String(process.pid)) {
      unlinkSync(join(directory, PID_FILE));
    }
  } catch {
    // already gone
  }
}

/** Not Linux: the PID file, taken over when kill(pid, 0) says its process is gone. */
function lockWithPidFile(directory: string): SpoolLock {
  const path = join(directory, PID_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx', mode: 0o600 });
      return { release: () => removePidFile(directory) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = recordedHolder(directory);
    if (holder && holder !== process.pid && isAlive(holder)) throw new SpoolLockedError(directory, holder);
    unlinkSync(path);
  }
  throw new SpoolLockedError(directory, recordedHolder(directory));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
