import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';

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

/**
 * Writes `bench/results/<name>-<timestamp>.json` (timestamp in ISO 8601 basic format, safe in file names)
 * with the machine info first, and returns the path relative to the repository.
 */
export function writeResults(name: string, payload: object): string {
  const root = repositoryRoot();
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const file = join(root, 'bench', 'results', `${name}-${stamp}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify({ benchmark: name, machine: machineInfo(), ...payload }, null, 2)}\n`,
  );
  return relative(root, file);
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
