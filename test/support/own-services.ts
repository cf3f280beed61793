import { execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import Redis from 'ioredis';
import { createServer } from 'node:net';
import { freePort } from './process';

/**
 * Postgres and Redis instances of a test's own, on spare ports, for fault tests that stop and start them:
 * the shared services on the standard ports stay up for everyone else.
 */
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function postgresBin(name: string): string {
  const root = '/usr/lib/postgresql';
  const version = existsSync(root) ? readdirSync(root).sort().pop() : undefined;
  const path = version ? join(root, version, 'bin', name) : name;
  return existsSync(path) ? path : name;
}

/** Runs a Postgres tool as the `postgres` user when we are root (initdb and postgres refuse root). */
async function asPostgres(command: string, args: string[]): Promise<void> {
  const isRoot = process.getuid?.() === 0;
  if (isRoot) await run('runuser', ['-u', 'postgres', '--', command, ...args]);
  else await run(command, args);
}

export interface OwnPostgres {
  port: number;
  /** Admin URL (database `postgres`). */
  url: string;
  databaseUrl(name: string): string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** `logical`: wal_level=logical with room for replication slots (the `wal` capture mode's tests). */
export async function startOwnPostgres(options: { logical?: boolean } = {}): Promise<OwnPostgres> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'audit-own-pg-'));
  const data = join(dir, 'data');
  if (process.getuid?.() === 0) chownSync(dir, ...postgresIds());
  await asPostgres(postgresBin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  const start = async () => {
    await asPostgres(postgresBin('pg_ctl'), [
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off` +
        (options.logical ? ' -c wal_level=logical -c max_replication_slots=8 -c max_wal_senders=8' : ''),
      '-w',
      'start',
    ]);
  };
  const stop = async () => {
    await asPostgres(postgresBin('pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
  };
  await start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    port,
    url,
    databaseUrl: (name) => `postgres://postgres@127.0.0.1:${port}/${name}`,
    start,
    stop,
    destroy: async () => {
      await stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresIds(): [number, number] {
  // The `postgres` user of the distribution package.
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return [uid, gid];
}

/** A database on an own Postgres. */
export async function createOwnDatabase(pg: OwnPostgres, name: string): Promise<string> {
  const client = new Client({ connectionString: pg.url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  return pg.databaseUrl(name);
}

export interface OwnRedis {
  port: number;
  url: string;
  /** SHUTDOWN: the append-only file is synced, so a restart brings the streams back. */
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** A Redis with AOF (appendfsync always), as redis delivery mode should be deployed. */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'audit-own-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  const start = async () => {
    const child = spawn(
      'redis-server',
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
        ...['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
      ],
      { stdio: 'ignore', detached: true },
    );
    child.unref();
    await waitForRedis(url);
  };
  const stop = async () => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await client.connect().catch(() => undefined);
    await client.call('SHUTDOWN').catch(() => undefined); // the connection closes: that is the answer
    client.disconnect();
    for (let i = 0; i < 100; i++) {
      if (!(await pingOnce(url))) return;
      await sleep(50);
    }
  };
  await start();
  return {
    port,
    url,
    start,
    stop,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function pingOnce(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

async function waitForRedis(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await pingOnce(url)) return;
    await sleep(50);
  }
  throw new Error(`redis-server at ${url} did not come up`);
}

export interface OwnReplica {
  port: number;
  /** Admin URL (database `postgres`) of the standby: read-only. */
  url: string;
  databaseUrl(name: string): string;
  /** `pg_ctl stop -m fast`: its connections are cut, as when a replica's host goes away. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

export interface OwnPrimaryWithReplica {
  primary: OwnPostgres;
  replica: OwnReplica;
  destroy(): Promise<void>;
}

/**
 * An own primary (wal_level=replica, WAL senders) and a hot-standby streaming replica of it: `pg_basebackup -R`
 * of the primary into a temp directory (it writes standby.signal and primary_conninfo), started as a second
 * postmaster on another loopback port. initdb's pg_hba already trusts replication connections from 127.0.0.1.
 */
export async function startOwnPrimaryWithReplica(): Promise<OwnPrimaryWithReplica> {
  const [primaryPort, replicaPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'audit-own-replicated-'));
  if (process.getuid?.() === 0) chownSync(dir, ...postgresIds());
  const primaryData = join(dir, 'primary');
  const replicaData = join(dir, 'replica');
  const common = `-k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const control = (data: string, port: number, options: string) => ({
    start: () =>
      asPostgres(postgresBin('pg_ctl'), [
        ...['-D', data, '-l', `${data}.log`, '-o', `-p ${port} ${common} ${options}`, '-w', 'start'],
      ]),
    stop: () => asPostgres(postgresBin('pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']),
  });
  await asPostgres(postgresBin('initdb'), [
    '-D',
    primaryData,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
  ]);
  const primary = control(primaryData, primaryPort, '-c wal_level=replica -c max_wal_senders=4');
  await primary.start();
  const replica = control(replicaData, replicaPort, '-c hot_standby=on -c hot_standby_feedback=on');
  try {
    await asPostgres(postgresBin('pg_basebackup'), [
      ...['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres'],
      ...['-D', replicaData, '-R', '-X', 'stream', '-c', 'fast'],
    ]);
    await replica.start();
  } catch (error) {
    await primary.stop().catch(() => undefined);
    throw error;
  }
  const urlOf = (port: number, name: string) => `postgres://postgres@127.0.0.1:${port}/${name}`;
  return {
    primary: {
      port: primaryPort,
      url: urlOf(primaryPort, 'postgres'),
      databaseUrl: (name) => urlOf(primaryPort, name),
      start: primary.start,
      stop: primary.stop,
      destroy: primary.stop,
    },
    replica: {
      port: replicaPort,
      url: urlOf(replicaPort, 'postgres'),
      databaseUrl: (name) => urlOf(replicaPort, name),
      start: replica.start,
      stop: replica.stop,
    },
    destroy: async () => {
      await replica.stop().catch(() => undefined);
      await primary.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface OwnRedisClusterNode {
  port: number;
  url: string;
}

export interface OwnRedisCluster {
  /** Every node, masters first as created (node i + masters is the replica of master i). */
  nodes: OwnRedisClusterNode[];
  /** Seed URLs for a client (AUDIT_REDIS_CLUSTER_NODES): every node. */
  urls: string[];
  /** CLUSTER FAILOVER on `replica` (a coordinated manual failover); resolves once it is master and ok. */
  failover(replica: OwnRedisClusterNode): Promise<void>;
  /** Role of a node now ('master' or 'slave'). */
  role(node: OwnRedisClusterNode): Promise<string>;
  /** A replica of the master on `masterPort` now. */
  replicaOf(masterPort: number): Promise<OwnRedisClusterNode>;
  destroy(): Promise<void>;
}

/** A port whose cluster bus port (+10000) is free as well. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10000 > 65535 || taken.has(port)) continue;
    const bus = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port + 10000, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (bus) return port;
  }
}

/**
 * A local Redis Cluster of `masters` masters, each with one replica, from `redis-server --cluster-enabled
 * yes` on spare loopback ports in temporary directories, with AOF `appendfsync always` (as redis delivery
 * should be deployed). Created with `redis-cli --cluster create`, ready once every node says cluster_state:ok.
 */
export async function startOwnRedisCluster(masters = 3): Promise<OwnRedisCluster> {
  const taken = new Set<number>();
  const nodes: Array<OwnRedisClusterNode & { dir: string }> = [];
  for (let i = 0; i < masters * 2; i++) {
    const port = await freeClusterPort(taken);
    taken.add(port);
    nodes.push({
      port,
      url: `redis://127.0.0.1:${port}`,
      dir: mkdtempSync(join(tmpdir(), 'audit-own-cluster-')),
    });
  }
  const cli = (port: number, ...args: string[]) =>
    run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]);
  const destroy = async () => {
    for (const node of nodes) {
      await cli(node.port, 'SHUTDOWN', 'NOSAVE').catch(() => undefined);
      for (let i = 0; i < 100 && (await pingOnce(node.url)); i++) await sleep(50);
      rmSync(node.dir, { recursive: true, force: true });
    }
  };
  try {
    for (const node of nodes) {
      const child = spawn(
        'redis-server',
        [
          ...['--port', String(node.port), '--bind', '127.0.0.1', '--dir', node.dir],
          ...[
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '3000',
          ],
          ...['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
        ],
        { stdio: 'ignore', detached: true },
      );
      child.unref();
    }
    for (const node of nodes) await waitForRedis(node.url);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ]);
    await waitForCluster(
      nodes.map((node) => node.port),
      cli,
    );
  } catch (error) {
    await destroy();
    throw error;
  }
  const role = async (node: OwnRedisClusterNode) =>
    /role:(\w+)/.exec((await cli(node.port, 'INFO', 'replication')).stdout)?.[1] ?? 'unknown';
  return {
    nodes: nodes.map(({ port, url }) => ({ port, url })),
    urls: nodes.map((node) => node.url),
    role,
    replicaOf: async (masterPort) => {
      for (const { port, url } of nodes) {
        const info = (await cli(port, 'INFO', 'replication')).stdout;
        if (info.includes('role:slave') && info.includes(`master_port:${masterPort}\r`)) return { port, url };
      }
      throw new Error(`no replica of 127.0.0.1:${masterPort}`);
    },
    failover: async (replica) => {
      await cli(replica.port, 'CLUSTER', 'FAILOVER');
      for (let i = 0; i < 200 && (await role(replica)) !== 'master'; i++) await sleep(50);
      if ((await role(replica)) !== 'master') throw new Error(`${replica.url} did not take over`);
      await waitForCluster(
        nodes.map((node) => node.port),
        cli,
      );
    },
    destroy,
  };
}

async function waitForCluster(
  ports: number[],
  cli: (port: number, ...args: string[]) => Promise<{ stdout: string }>,
): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const states = await Promise.all(
      ports.map((port) =>
        cli(port, 'CLUSTER', 'INFO').then(
          (r) => r.stdout,
          () => '',
        ),
      ),
    );
    if (states.every((state) => state.includes('cluster_state:ok'))) return;
    await sleep(100);
  }
  throw new Error('the Redis Cluster did not reach cluster_state:ok');
}
