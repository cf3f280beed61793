import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MAIN_JS = join(__dirname, '..', '..', 'dist', 'demo', 'main.js');
/** `npm run worker`'s file: the stream flush worker. */
export const WORKER_JS = join(__dirname, '..', '..', 'dist', 'demo', 'worker.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface ServiceProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code, or the signal name when the process ended by a signal. */
  exited: Promise<number | string | null>;
}

/** Runs the built service (`npm start` runs the same file) as a real process. */
export function startService(
  env: Record<string, string | undefined>,
  script: string = MAIN_JS,
): ServiceProcess {
  const clean = { ...process.env };
  delete clean.DATABASE_URL;
  // A spool of its own unless the test chooses one (a kill-and-restart test reuses it on purpose).
  const spool = env.AUDIT_SPOOL_DIR ?? mkdtempSync(join(tmpdir(), 'audit-spool-'));
  const child = spawn(process.execPath, [script], {
    env: { ...clean, LOG_LEVEL: 'log', AUDIT_SPOOL_DIR: spool, ...env },
    stdio: 'pipe',
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  return { child, output: () => output, exited };
}

/** Polls until `GET url` answers 200 or the process exits. */
export async function waitForHttp(url: string, service: ServiceProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void service.exited.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up:\n${service.output()}`);
}
