import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..');
const run = promisify(execFile);
const BUILT_TYPES = join(ROOT, 'dist', 'src', 'index.d.ts');

/** The file a snippet is imported as by the others (`./health.controller`...), from what it declares. */
function fileNameOf(snippet: string, index: number): string {
  const kebab = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
  const controller = /export class (\w+)Controller\b/.exec(snippet);
  if (controller) return `${kebab(controller[1])}.controller.ts`;
  const entity = /@Entity\([^)]*\)\s*export class (\w+)/.exec(snippet);
  if (entity) return `${kebab(entity[1])}.entity.ts`;
  return `snippet-${index}.ts`;
}

/** Every ```ts block of the README, as files of one project that imports 'nest-audit-trail'. */
function readmeSnippets(): Array<{ file: string; code: string }> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match, index) => ({
    file: fileNameOf(match[1], index),
    code: match[1],
  }));
}

describe('README snippets', () => {
  // Inside the repository (for its node_modules), in a folder no tsconfig includes.
  const dir = join(ROOT, '.snippets', String(process.pid));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has the adopter path as code: install, module, controller, entity, health, worker', () => {
    const snippets = readmeSnippets();
    expect(snippets.length).toBeGreaterThanOrEqual(6);
    const all = snippets.map((s) => s.code).join('\n');
    for (const name of ['AuditModule', 'AuditAdminModule', 'AuditJobsModule', 'AuditHealthModule', 'Audited']) {
      expect(all).toContain(name);
    }
    expect(all).not.toMatch(/from 'src\//); // the package's name, never a path into this repository
  });

  it('type-checks every ts snippet against the public entry, with the strictness of an app', async () => {
    mkdirSync(dir, { recursive: true });
    const snippets = readmeSnippets();
    // Two snippets declaring the same file would hide one of them.
    expect(new Set(snippets.map((s) => s.file)).size).toBe(snippets.length);
    for (const { file, code } of snippets) writeFileSync(join(dir, file), code);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'commonjs',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          skipLibCheck: true,
          types: ['node'],
          // The published declarations when built (npm test builds first), else the sources.
          paths: { 'nest-audit-trail': [existsSync(BUILT_TYPES) ? BUILT_TYPES : join(ROOT, 'src', 'index.ts')] },
        },
        include: ['*.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')]).then(
      () => ({ ok: true, output: '' }),
      (error: { stdout?: string }) => ({ ok: false, output: error.stdout ?? String(error) }),
    );
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  }, 120_000);
});
