// Builds the audit viewer into dist/viewer (run by `npm run build`, so it ships inside the package):
// one content-hashed script and stylesheet, and the page that loads them. No CDN: the page works offline.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'dist', 'viewer');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: { app: join(here, 'src', 'main.tsx') },
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  // The dashboard's charts are their own chunk, loaded when the dashboard opens.
  splitting: true,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome111', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
const script = outputs.find((name) => name.startsWith('app-') && name.endsWith('.js'));
const style = outputs.find((name) => name.startsWith('app-') && name.endsWith('.css'));
if (!script || !style) throw new Error(`viewer build: missing outputs (${outputs.join(', ')})`);
// The chunks the entry imports statically: preloaded beside it, not discovered after it ran.
const entry = Object.entries(result.metafile.outputs).find(([file]) => basename(file) === script)[1];
const preloads = entry.imports
  .filter((i) => i.kind === 'import-statement')
  .map((i) => `<link rel="modulepreload" href="%BASE%/ui/assets/${basename(i.path)}" />`)
  .join('\n    ');
const page = readFileSync(join(here, 'index.html'), 'utf8')
  .replace('%PRELOADS%', preloads)
  .replace('%SCRIPT%', `%BASE%/ui/assets/${script}`)
  .replace('%STYLE%', `%BASE%/ui/assets/${style}`);
writeFileSync(join(out, 'index.html'), page);
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`viewer: ${outputs.join(', ')} (${(bytes / 1024).toFixed(0)} KiB)`);
