import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

/** This repository: only its installed versions and its TypeScript compiler are used, never its sources. */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const REPO_TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** What the app installs beside the tarball, pinned to this repo's versions so the warm npm cache serves them. */
export const APP_DEPENDENCIES = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/platform-express',
  '@nestjs/schedule',
  '@nestjs/swagger',
  '@nestjs/terminus',
  '@nestjs/typeorm',
  'typeorm',
  'pg',
  'rxjs',
  'reflect-metadata',
  'class-validator',
  'class-transformer',
];
export const APP_DEV_DEPENDENCIES = ['@types/express', '@types/node'];

/** Packages of which a second copy breaks the app (Nest's DI matches classes by identity). */
export const SINGLETON_PEERS = APP_DEPENDENCIES;

const TEMPLATES = join(__dirname, 'app', 'src');

function installedVersion(name: string): string {
  return (
    JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
}

/**
 * Writes a throwaway NestJS app (package.json, tsconfig.json, src/) depending on the tarball: no path, alias or
 * reference into this repository. Its sources are test/support/adopter/app/src/*.ts.txt.
 */
export function writeAdopterApp(dir: string, tarball: string, skipLibCheck: boolean): void {
  mkdirSync(join(dir, 'src'), { recursive: true });
  const pin = (names: string[]) => Object.fromEntries(names.map((name) => [name, installedVersion(name)]));
  const pkg = {
    name: 'invoices-app',
    version: '1.0.0',
    private: true,
    scripts: { build: 'tsc -p tsconfig.json', start: 'node dist/main.js' },
    dependencies: { 'nest-audit-trail': `file:${tarball}`, ...pin(APP_DEPENDENCIES) },
    devDependencies: pin(APP_DEV_DEPENDENCIES),
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  const tsconfig = {
    compilerOptions: {
      module: 'commonjs',
      target: 'ES2022',
      lib: ['ES2023'],
      rootDir: 'src',
      outDir: 'dist',
      types: ['node'],
      strict: true,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      esModuleInterop: true,
      skipLibCheck,
      forceConsistentCasingInFileNames: true,
    },
    include: ['src/**/*.ts'],
  };
  writeFileSync(join(dir, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
  for (const file of readdirSync(TEMPLATES)) {
    if (file.endsWith('.ts.txt')) {
      writeFileSync(join(dir, 'src', file.slice(0, -'.txt'.length)), readFileSync(join(TEMPLATES, file)));
    }
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (never throws on a non-zero exit: the caller asserts). */
export function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 5 * 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Every installed copy of each package under `nodeModules` (nested node_modules included), relative paths. */
export function installedCopies(nodeModules: string, names: readonly string[]): Record<string, string[]> {
  const copies: Record<string, string[]> = Object.fromEntries(names.map((name) => [name, []]));
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      if (entry === '.bin' || entry === '.package-lock.json') continue;
      const packages = entry.startsWith('@')
        ? readdirSync(join(dir, entry)).map((scoped) => `${entry}/${scoped}`)
        : [entry];
      for (const name of packages) {
        const path = join(dir, name);
        if (!lstatSync(path).isDirectory()) continue;
        if (name in copies) copies[name].push(relative(dirname(nodeModules), path));
        if (existsSync(join(path, 'node_modules'))) walk(join(path, 'node_modules'));
      }
    }
  };
  walk(nodeModules);
  return copies;
}

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? entry.name === 'node_modules'
        ? []
        : jsFiles(join(dir, entry.name))
      : entry.name.endsWith('.js')
        ? [join(dir, entry.name)]
        : [],
  );
}

const REQUIRE = /\brequire\(\s*["']([^"']+)["']\s*\)|\bimport\(\s*["']([^"']+)["']\s*\)/g;

/**
 * Static check of an installed package's compiled files: every relative require resolves to a file in the
 * package, every bare one names a Node built-in, a dependency or a peer dependency (no path alias such as
 * `src/...` or a `paths` name, no undeclared package).
 */
export function unresolvedRequires(packageDir: string): { missingFiles: string[]; undeclared: string[] } {
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    name: string;
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  const declared = new Set([
    pkg.name,
    ...Object.keys(pkg.dependencies ?? {}),
    ...Object.keys(pkg.peerDependencies ?? {}),
  ]);
  const builtins = new Set(builtinModules);
  const missingFiles = new Set<string>();
  const undeclared = new Set<string>();
  for (const file of jsFiles(packageDir)) {
    const from = relative(packageDir, file);
    for (const match of readFileSync(file, 'utf8').matchAll(REQUIRE)) {
      const specifier = match[1] ?? match[2];
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier);
        const found = ['', '.js', '.json', '/index.js'].some((suffix) => {
          const candidate = target + suffix;
          return existsSync(candidate) && lstatSync(candidate).isFile();
        });
        if (!found) missingFiles.add(`${from} -> ${specifier}`);
        continue;
      }
      const bare = specifier.replace(/^node:/, '');
      const name = bare.startsWith('@') ? bare.split('/').slice(0, 2).join('/') : bare.split('/')[0];
      if (!builtins.has(bare) && !builtins.has(name) && !declared.has(name))
        undeclared.add(`${from} -> ${specifier}`);
    }
  }
  return { missingFiles: [...missingFiles].sort(), undeclared: [...undeclared].sort() };
}
