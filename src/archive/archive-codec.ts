import { Transform, TransformCallback } from 'node:stream';
import { Decompress as ZstdDecoder } from 'fzstd';
import { constants, createBrotliCompress, createBrotliDecompress, createGunzip, createGzip } from 'node:zlib';

export const ARCHIVE_COMPRESSIONS = ['gzip', 'zstd', 'brotli'] as const;
export type ArchiveCompression = (typeof ARCHIVE_COMPRESSIONS)[number];

export const isArchiveCompression = (value: unknown): value is ArchiveCompression =>
  ARCHIVE_COMPRESSIONS.includes(value as ArchiveCompression);

/**
 * gzip (level 6) is the default: every tool reads it. zstd (libzstd's default level 3; `zstd -d` reads it) costs a third of
 * gzip's CPU for a slightly smaller file: on two cores the export is then bound by Postgres, not by the
 * compressor (bench/archive). brotli (quality 4, 16 MiB window) is there for stores where every byte counts.
 */
export function compressor(kind: ArchiveCompression): Transform {
  if (kind === 'zstd') return new ZstdFrameCompressor();
  if (kind === 'brotli')
    return createBrotliCompress({
      params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_LGWIN]: 24 },
    });
  return createGzip({ level: 6 });
}

export function decompressor(kind: ArchiveCompression): Transform {
  if (kind === 'zstd') return new ZstdDecompressor();
  return kind === 'brotli' ? createBrotliDecompress() : createGunzip();
}

const EXTENSIONS: Record<ArchiveCompression, string> = { gzip: 'gz', zstd: 'zst', brotli: 'br' };

export const extensionOf = (kind: ArchiveCompression) => EXTENSIONS[kind];

/** Uncompressed bytes per zstd frame: big enough that the ratio is the stream's, small enough to hold. */
const ZSTD_FRAME_BYTES = 4 * 1024 * 1024;

/**
 * zstd as a sequence of independent frames of 4 MiB of input each (a valid zstd stream: `zstd -d` and any
 * streaming decoder read the frames one after the other). Each frame is compressed by libzstd on the libuv
 * thread pool (@mongodb-js/zstd, loaded on first use), so the event loop stays free while it runs.
 */
class ZstdFrameCompressor extends Transform {
  private readonly compress = loadZstd().compress;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private frames = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < ZSTD_FRAME_BYTES) return done();
    this.frame().then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    // No input at all (an empty partition) still makes one (empty) frame: a 0-byte file is not zstd.
    if (this.pendingBytes === 0 && this.frames > 0) return done();
    this.frame().then(() => done(), done);
  }

  private async frame(): Promise<void> {
    const input = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.frames++;
    this.push(await this.compress(input));
  }
}

/**
 * A streaming zstd decoder (fzstd, in JavaScript): any number of frames, memory bounded by each frame's
 * window (4 MiB for the frames written here; a frame header may claim up to 2 GiB, which fzstd allocates).
 */
class ZstdDecompressor extends Transform {
  private readonly decoder: ZstdDecoder;

  constructor() {
    super();
    // Each block comes in a new array (fzstd copies raw blocks, allocates the others): wrapped, not copied.
    this.decoder = new ZstdDecoder((data) => {
      if (data.length > 0) this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.decoder.push(chunk);
      done();
    } catch (error) {
      done(zstdError(error));
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(0), true);
      done();
    } catch (error) {
      done(zstdError(error));
    }
  }
}

/**
 * fzstd throws errors with a numeric code: rethrown with zlib's code for bad data (`Z_DATA_ERROR`), which
 * callers already treat as a corrupt file (restore refuses it as tampered).
 */
function zstdError(error: unknown): Error {
  return Object.assign(new Error(`zstd: ${(error as Error).message}`), { code: 'Z_DATA_ERROR' });
}

/** Null when the zstd compressor loads on this platform, else why not (checked with the configuration). */
export function zstdUnavailable(): string | null {
  try {
    loadZstd();
    return null;
  } catch (error) {
    return (error as Error).message.split('\n')[0];
  }
}

function loadZstd(): typeof import('@mongodb-js/zstd') {
  // Loaded on first use: a deployment that never selects zstd never loads the native module (a platform
  // without a prebuilt binary still runs, and says so at start-up if zstd is configured).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@mongodb-js/zstd') as typeof import('@mongodb-js/zstd');
}
