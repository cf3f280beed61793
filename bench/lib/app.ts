import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { INestApplication } from '@nestjs/common';
import { SignJWT } from 'jose';
import { createApp } from '../../demo/bootstrap';
import { loadConfig } from '../../src/config/environment';
import { freePort } from './ports';

export { freePort };

export const BENCH_JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';
/** The built service, as `npm start` runs it (this file is dist/bench/lib/app.js). */
const MAIN_JS = join(__dirname, '..', '..', 'demo', 'main.js');

/** The environment of a benchmarked app: quiet logs, the bench secret, plus per-run settings. */
export function appEnv(databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    AUTH_JWT_SECRET: BENCH_JWT_SECRET,
    LOG_LEVEL: 'error',
    // The buffered request-mode capture the figures describe (the demo's own default is transactional).
    DEMO_AUDIT_CONSISTENCY: 'request',
    // Every benchmarked app its own spool directory (one process per spool).
    AUDIT_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'audit-bench-spool-')),
    ...extra,
  };
}

/** The real app (same bootstrap as main.ts) inside this process, initialized but not listening. */
export async function startInProcessApp(
  databaseUrl: string,
  extra: Record<string, string> = {},
): Promise<INestApplication> {
  const app = await createApp(loadConfig(appEnv(databaseUrl, extra)));
  await app.init();
  return app;
}

export interface ServiceProcess {
  baseUrl: string;
  /** Of the child process, to read its CPU time. */
  pid: number;
  /** Everything the process printed, for error messages. */
  output(): string;
  /** SIGTERM, then waits for the exit (the app drains its audit buffer first). */
  stop(): Promise<void>;
}

/** Runs the built service as a child process (its own event loop) and waits until /health/ready answers. */
export async function startServiceProcess(
  databaseUrl: string,
  extra: Record<string, string> = {},
  /** Node flags for the child, e.g. `--cpu-prof` to profile the service under load. */
  nodeArgs: string[] = [],
): Promise<ServiceProcess> {
  const port = await freePort();
  const env = { ...process.env, ...appEnv(databaseUrl, { PORT: String(port), ...extra }) };
  const child = spawn(process.execPath, [...nodeArgs, MAIN_JS], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const service: ServiceProcess = {
    baseUrl: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  await waitUntilReady(service, child);
  return service;
}

/** A Bearer token the app accepts, for a user of one organization. */
export async function benchToken(claims: { sub: string; org: string }): Promise<string> {
  return new SignJWT({ org: claims.org, roles: [] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(BENCH_JWT_SECRET));
}

async function waitUntilReady(
  service: ServiceProcess,
  child: ChildProcess,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      if ((await fetch(`${service.baseUrl}/health/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  await service.stop();
  throw new Error(`Service did not become ready:\n${service.output()}`);
}
