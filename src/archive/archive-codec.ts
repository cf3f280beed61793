import { Transform } from 'node:stream';
import { constants, createBrotliCompress, createBrotliDecompress, createGunzip, createGzip } from 'node:zlib';

export type ArchiveCompression = 'gzip' | 'brotli';

/**
 * gzip (level 6) is the default: every tool reads it. brotli (quality 4, 16 MiB window) is there for
 * stores where every byte counts: with rows grouped by resource it is only a little smaller (7.5x vs 7.3x
 * against heap + TOAST in bench/archive) and slower, since most repetition is then within gzip's 32 KiB.
 */
export function compressor(kind: ArchiveCompression): Transform {
  if (kind === 'brotli')
    return createBrotliCompress({
      params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_LGWIN]: 24 },
    });
  return createGzip({ level: 6 });
}

export function decompressor(kind: ArchiveCompression): Transform {
  return kind === 'brotli' ? createBrotliDecompress() : createGunzip();
}

export const extensionOf = (kind: ArchiveCompression) => (kind === 'brotli' ? 'br' : 'gz');

/** The compression of a stored data file, from its key (`data.ndjson.gz`, `data.ndjson.br`). */
export const compressionOfKey = (key: string): ArchiveCompression =>
  key.endsWith('.br') ? 'brotli' : 'gzip';
