import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { ArchiveObjectNotFound, ArchiveStorage, ObjectUpload } from './archive-storage';

/**
 * Archives in a directory. An object is written to a temporary name and renamed when complete, so a crash
 * mid-write never leaves a truncated file under the real name.
 */
export class FileArchiveStorage implements ArchiveStorage {
  private readonly root: string;

  constructor(readonly url: string) {
    this.root = fileURLToPath(url);
  }

  private path(key: string): string {
    const path = resolve(this.root, key);
    if (!path.startsWith(this.root)) throw new Error(`archive key escapes the archive directory: ${key}`);
    return path;
  }

  upload(key: string): ObjectUpload {
    const target = this.path(key);
    const temporary = join(dirname(target), `.${randomBytes(6).toString('hex')}.partial`);
    // Synchronous: the write stream opens its file right away, the directory must exist by then.
    mkdirSync(dirname(target), { recursive: true });
    const stream = createWriteStream(temporary, { flags: 'w' });
    const done = (async () => {
      try {
        await finished(stream);
        await rename(temporary, target);
      } catch (error) {
        await rm(temporary, { force: true });
        throw error;
      }
    })();
    return { stream, done };
  }

  async download(key: string): Promise<Readable> {
    const path = this.path(key);
    try {
      await stat(path);
    } catch {
      throw new ArchiveObjectNotFound(key);
    }
    return createReadStream(path);
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}
