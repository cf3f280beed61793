import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';

export interface MachineInfo {
  date: string;
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  totalMemMiB: number;
  /** 1, 5 and 15 minute load averages when the results were written: a busy machine explains noisy figures. */
  loadAverage: number[];
  git: { commit: string; dirty: boolean } | null;
}

export function machineInfo(): MachineInfo {
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    totalMemMiB: Math.round(totalmem() / 1024 / 1024),
    loadAverage: loadavg().map((load) => Number(load.toFixed(2))),
    git: gitState(),
  };
}

/** Now in ISO 8601 basic format (20261123T014529Z), safe in file names and sorting like time. */
export function resultStamp(date = new Date()): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/**
 * Writes `bench/results/<name>-<stamp>.json` with the machine info first, and returns the path relative to
 * the repository. Pass the stamp to name other files of the same run alike (a chart).
 */
export function writeResults(name: string, payload: object, stamp = resultStamp()): string {
  return writeBenchFile(
    join('bench', 'results', `${name}-${stamp}.json`),
    `${JSON.stringify({ benchmark: name, machine: machineInfo(), ...payload }, null, 2)}\n`,
  );
}

/** Writes a file at a path relative to the repository (creating folders) and returns that path. */
export function writeBenchFile(path: string, content: string): string {
  const file = join(repositoryRoot(), path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  return path;
}

/** The newest `bench/results/<name>-<stamp>.json` written at or after `since`, parsed; null if none. */
export function newestResults(name: string, since: Date): { file: string; data: unknown } | null {
  const folder = join(repositoryRoot(), 'bench', 'results');
  const pattern = new RegExp(`^${name}-(\\d{8}T\\d{6}Z)\\.json$`);
  const oldest = resultStamp(since);
  const newest = (existsSync(folder) ? readdirSync(folder) : [])
    .filter((file) => (pattern.exec(file)?.[1] ?? '') >= oldest)
    .sort()
    .pop();
  if (!newest) return null;
  return {
    file: join('bench', 'results', newest),
    data: JSON.parse(readFileSync(join(folder, newest), 'utf8')),
  };
}

/** The nearest folder above this file holding package.json (works from bench/ and from dist/bench/). */
function repositoryRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

function gitState(): MachineInfo['git'] {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: repositoryRoot(), encoding: 'utf8' }).trim();
    return {
      commit: git('rev-parse', 'HEAD'),
      dirty: git('status', '--porcelain', '--untracked-files=no').length > 0,
    };
  } catch {
    return null;
  }
}
