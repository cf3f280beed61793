import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports';

const run = promisify(execFile);

/**
 * A Postgres server of the benchmark's own, on a spare port, for what the machine's server is not configured
 * for (the `wal` capture mode needs wal_level=logical; the machine's server is never reconfigured). Every
 * variant of a run then runs against it, so they are compared on the same server. Its settings follow the
 * stock server's (fsync and synchronous_commit on, 128 MB shared buffers) plus `settings`.
 */
export interface OwnPostgres {
  /** Admin URL (database `postgres`). */
  url: string;
  /** The server's settings as started (recorded with the results). */
  settings: Record<string, string>;
  destroy(): Promise<void>;
}

/** Logical decoding with room for slots, and connections for the bench's many service processes. */
export const LOGICAL_SETTINGS: Record<string, string> = {
  wal_level: 'logical',
  max_replication_slots: '8',
  max_wal_senders: '8',
  max_connections: '300',
  shared_buffers: '128MB',
};

export async function startOwnPostgres(
  settings: Record<string, string> = LOGICAL_SETTINGS,
): Promise<OwnPostgres> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'audit-bench-pg-'));
  const data = join(dir, 'data');
  // initdb and postgres refuse to run as root: as the distribution's `postgres` user then.
  if (process.getuid?.() === 0) chownSync(dir, ...postgresIds());
  await asPostgres(postgresBin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  const options = Object.entries({ ...settings, listen_addresses: '127.0.0.1' })
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(' ');
  const ctl = (args: string[]) => asPostgres(postgresBin('pg_ctl'), ['-D', data, ...args]);
  await ctl(['-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} ${options}`, '-w', 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    settings,
    destroy: async () => {
      await ctl(['-m', 'fast', '-w', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `work` with an own server, stopped and removed afterwards (also when `work` fails). */
export async function withOwnPostgres<T>(work: (pg: OwnPostgres) => Promise<T>): Promise<T> {
  const pg = await startOwnPostgres();
  try {
    return await work(pg);
  } finally {
    await pg.destroy();
  }
}

/** The newest installed server's tool (Debian layout), else from the PATH. */
function postgresBin(name: string): string {
  const root = '/usr/lib/postgresql';
  const version = existsSync(root)
    ? readdirSync(root)
        .sort((a, b) => Number(a) - Number(b))
        .pop()
    : undefined;
  const path = version ? join(root, version, 'bin', name) : name;
  return existsSync(path) ? path : name;
}

async function asPostgres(command: string, args: string[]): Promise<void> {
  if (process.getuid?.() === 0) await run('runuser', ['-u', 'postgres', '--', command, ...args]);
  else await run(command, args);
}

function postgresIds(): [number, number] {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  return [id('-u'), id('-g')];
}
