import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The package's boundaries, checked on the sources (no database needed): what the issue tracker and the
 * README promise adopters about the layout, so a change that breaks it fails here rather than in review.
 */
const ROOT = join(__dirname, '..');
const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.spec.ts') ? [path] : [];
  });
}

/** Relative imports and re-exports of a file (type-only ones too), resolved to files. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/(?:import|export)\s[^;]*?from\s+'(\.[^']*)'/gs),
    ...text.matchAll(/import\s+'(\.[^']*)'/g), // side-effect imports
  ].map((m) => m[1]);
  return specs.map((spec) => {
    const target = resolve(dirname(file), spec);
    for (const candidate of [`${target}.ts`, join(target, 'index.ts')]) {
      try {
        if (statSync(candidate).isFile()) return candidate;
      } catch {
        // try the next form
      }
    }
    return target; // outside src or not found: still reported by path
  });
}

const folderOf = (file: string) => relative(SRC, file).split('/')[0];
const files = sources(SRC);
const graph = new Map(files.map((file) => [file, importsOf(file)]));

describe('package layout', () => {
  it('imports nothing outside the package: no demo, test or bench code, no path aliases', () => {
    const outside: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) {
        const rel = relative(ROOT, target);
        if (!rel.startsWith('src/') && !rel.startsWith('migrations/')) outside.push(`${relative(ROOT, file)} -> ${rel}`);
      }
      if (/from\s+'(src|demo)\//.test(readFileSync(file, 'utf8'))) outside.push(`${relative(ROOT, file)}: path alias`);
    }
    expect(outside).toEqual([]);
  });

  it('keeps common free of the features, and enters other folders only through their index.ts', () => {
    const problems: string[] = [];
    for (const [file, targets] of graph) {
      const from = folderOf(file);
      for (const target of targets.filter((t) => t.startsWith(SRC + '/'))) {
        const to = folderOf(target);
        if (to === from || relative(SRC, file) === 'index.ts') continue;
        if (from === 'common') problems.push(`common imports ${relative(SRC, target)} (${relative(SRC, file)})`);
        else if (to !== 'common' && target !== join(SRC, to, 'index.ts')) {
          problems.push(`${relative(SRC, file)} reaches into ${relative(SRC, target)}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('has no import cycles', () => {
    // Tarjan's strongly connected components over the file graph: any component of two or more is a cycle.
    let index = 0;
    const order = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    const visit = (file: string) => {
      order.set(file, index);
      low.set(file, index++);
      stack.push(file);
      onStack.add(file);
      for (const next of graph.get(file) ?? []) {
        if (!graph.has(next)) continue;
        if (!order.has(next)) {
          visit(next);
          low.set(file, Math.min(low.get(file)!, low.get(next)!));
        } else if (onStack.has(next)) low.set(file, Math.min(low.get(file)!, order.get(next)!));
      }
      if (low.get(file) === order.get(file)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(relative(SRC, member));
        } while (member !== file);
        if (component.length > 1) cycles.push(component);
      }
    };
    for (const file of graph.keys()) if (!order.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });

  it('keeps files under about 400 lines', () => {
    const long = files
      .map((file) => ({ file: relative(SRC, file), lines: readFileSync(file, 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > 420);
    expect(long).toEqual([]);
  });
});
