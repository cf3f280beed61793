import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';

/** One built file of the viewer, held in memory (the whole viewer is a few hundred KiB). */
export interface ViewerAsset {
  body: Buffer;
  contentType: string;
  etag: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
};

/** The folder `npm run build` writes the viewer to: `<package root>/dist/viewer`. */
export function viewerDirectory(start = __dirname): string | null {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'dist', 'viewer');
    if (existsSync(join(dir, 'package.json')) && existsSync(join(candidate, 'index.html'))) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

const escapeAttribute = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The built viewer: its page (a template whose `%BASE%` is the admin API's path, filled per request) and
 * its content-hashed assets. Null when the package was not built with the viewer.
 */
export class ViewerAssets {
  private constructor(
    private readonly template: string,
    private readonly assets: Map<string, ViewerAsset>,
  ) {}

  static load(directory = viewerDirectory()): ViewerAssets | null {
    if (!directory) return null;
    const assets = new Map<string, ViewerAsset>();
    const assetDir = join(directory, 'assets');
    for (const name of existsSync(assetDir) ? readdirSync(assetDir) : []) {
      const body = readFileSync(join(assetDir, name));
      const contentType = CONTENT_TYPES[extname(name)] ?? 'application/octet-stream';
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      assets.set(name, { body, contentType, etag });
    }
    return new ViewerAssets(readFileSync(join(directory, 'index.html'), 'utf8'), assets);
  }

  /** The page, for an admin API mounted at `apiBase` (e.g. `/audit`). */
  page(apiBase: string): string {
    return this.template.replaceAll('%BASE%', escapeAttribute(apiBase));
  }

  asset(name: string): ViewerAsset | undefined {
    return this.assets.get(name);
  }
}
