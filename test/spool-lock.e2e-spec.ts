import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskSpool } from '../src/audit/delivery/disk-spool';

/**
 * The spool directory lock between real processes: a holder killed with SIGKILL must not keep the next process
 * out, even while it is still a zombie (its parent has not reaped it, as a busy supervisor may not have), and a
 * live holder must. The holder runs the real DiskSpool, compiled on the fly with swc.
 */
const HOLDER = `
const swc = require(${JSON.stringify(require.resolve('@swc/core'))});
require.extensions['.ts'] = (module, filename) => module._compile(
  swc.transformFileSync(filename, {
    swcrc: false,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  }).code,
  filename,
);
const { DiskSpool } = require(${JSON.stringify(join(__dirname, '..', 'src', 'audit', 'delivery', 'disk-spool.ts'))});
const spool = new DiskSpool({ directory: process.argv[2], maxBytes: 1 << 20, fsync: 'never' });
// SIGUSR2: let go of the directory a moment later, as a process still exiting does.
process.on('SIGUSR2', () => setTimeout(() => spool.close(), 700));
process.stdout.write('locked ' + process.pid + '\\n');
setInterval(() => undefined, 60_000);
`;

describe('the spool directory lock between processes', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  const spools: DiskSpool[] = [];
  const holders: number[] = [];
  let holderScript: string;

  beforeAll(() => {
    const scripts = mkdtempSync(join(tmpdir(), 'spool-lock-holder-'));
    dirs.push(scripts);
    holderScript = join(scripts, 'holder.js');
    writeFileSync(holderScript, HOLDER);
  });

  afterEach(() => {
    for (const spool of spools.splice(0)) spool.close();
    for (const child of children.splice(0)) child.kill('SIGKILL');
    for (const holder of holders.splice(0)) {
      try {
        process.kill(holder, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  function spoolDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'spool-lock-'));
    dirs.push(dir);
    return dir;
  }

  function openSpool(directory: string): DiskSpool {
    const spool = new DiskSpool({ directory, maxBytes: 1 << 20, fsync: 'never' });
    spools.push(spool);
    return spool;
  }

  /**
   * Starts a holder whose parent is a `sleep` that never reaps it (`sh` starts it in the background, then
   * becomes `sleep`): once killed, the holder stays a zombie, whose PID kill(pid, 0) still finds.
   */
  async function startHolder(directory: string): Promise<number> {
    const child = spawn(
      'sh',
      ['-c', `"${process.execPath}" "${holderScript}" "${directory}" & exec sleep 120`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    let output = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the holder did not lock:\n${output}`)), 20_000);
      const read = (chunk: Buffer) => {
        output += chunk;
        const match = /locked (\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          holders.push(Number(match[1]));
          resolve(Number(match[1]));
        }
      };
      child.stdout!.on('data', read);
      child.stderr!.on('data', read);
    });
  }

  function state(pid: number): string | undefined {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    } catch {
      return undefined;
    }
  }

  it('keeps a second process out while the holder lives', async () => {
    const directory = spoolDir();
    const holder = await startHolder(directory);
    const started = Date.now();
    expect(() => openSpool(directory)).toThrow(
      new RegExp(`in use by process ${holder}: give each process its own AUDIT_SPOOL_DIR`),
    );
    expect(Date.now() - started).toBeLessThan(1_000); // a live holder is not waited for
  }, 30_000);

  it('is taken at once by the next process after its holder is killed with SIGKILL, zombie or not', async () => {
    const directory = spoolDir();
    const holder = await startHolder(directory);
    process.kill(holder, 'SIGKILL');
    const deadline = Date.now() + 5_000;
    while (state(holder) !== 'Z' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(state(holder)).toBe('Z'); // dead, not reaped: its PID still answers kill(pid, 0)

    const started = Date.now();
    const spool = openSpool(directory);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(readFileSync(join(directory, 'spool.lock'), 'utf8')).toBe(String(process.pid));
    spool.close();
  }, 30_000);

  it('waits for a holder that is on its way out instead of refusing the directory', async () => {
    const directory = spoolDir();
    const holder = await startHolder(directory);
    // What the next process sees while a killed holder is still exiting: its socket still bound, and the pid
    // it recorded no longer that of a running process.
    writeFileSync(join(directory, 'spool.lock'), '999999999');
    process.kill(holder, 'SIGUSR2');
    const started = Date.now();
    openSpool(directory);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(400);
    expect(waited).toBeLessThan(5_000);
  }, 30_000);

  it('is not held by a spool.lock naming a live process that does not hold the lock (a recycled PID)', () => {
    const directory = spoolDir();
    writeFileSync(join(directory, 'spool.lock'), String(process.ppid)); // alive, and never locked anything
    expect(() => openSpool(directory)).not.toThrow();
  });
});
