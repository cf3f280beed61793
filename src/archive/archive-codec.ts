import { Transform, TransformCallback } from 'node:stream';
import { loadOptionalPackage } from '../common/packages/optional-package';
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
 * A streaming zstd decoder (fzstd, in JavaScript): any number of frames. fzstd allocates the window a frame
 * header claims (up to 2 GiB): every header is checked first by a ZstdFrameGuard, which refuses more than
 * `zstd -d` decodes by default (128 MiB), so a crafted file cannot make a restore or `verify-archive`
 * allocate gigabytes. The frames written here have windows of 4 MiB at most.
 */
class ZstdDecompressor extends Transform {
  private readonly decoder: ZstdDecoder;
  private readonly guard = new ZstdFrameGuard();

  constructor() {
    super();
    // Each block comes in a new array (fzstd copies raw blocks, allocates the others): wrapped, not copied.
    this.decoder = new ZstdDecoder((data) => {
      if (data.length > 0) this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.guard.check(chunk);
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

/** zstd's default decoding limit (ZSTD_WINDOWLOG_LIMIT_DEFAULT, 2^27): larger windows need `--memory`. */
export const ZSTD_MAX_WINDOW = 128 * 1024 * 1024;

const ZSTD_MAGIC = 0xfd2fb528;
const isSkippableMagic = (magic: number) => magic >>> 4 === 0x184d2a5;

/**
 * Walks the frame structure of a zstd stream as it passes (RFC 8878: frame header, block headers, optional
 * checksum; skippable frames), reading headers only and counting past block contents, and throws on a
 * frame whose window is larger than ZSTD_MAX_WINDOW, or on bytes that are not a frame where one must start.
 */
export class ZstdFrameGuard {
  /** Bytes of a header cut by a chunk boundary, waiting for the rest. */
  private pending = Buffer.alloc(0);
  /** Content bytes still to pass over before the next header. */
  private skip = 0;
  private state: 'frame' | 'block' = 'frame';
  /** zstd frames whose header has been checked. */
  frames = 0;
  private checksum = false;

  check(chunk: Buffer): void {
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    let at = 0;
    for (;;) {
      const passed = Math.min(this.skip, data.length - at);
      this.skip -= passed;
      at += passed;
      if (this.skip > 0 || at === data.length) return;
      const used = this.header(data, at);
      if (used === 0) {
        this.pending = Buffer.from(data.subarray(at));
        return;
      }
      at += used;
    }
  }

  /** Reads the header at `at`: its length (its content is then skipped), or 0 when it is not all there yet. */
  private header(data: Buffer, at: number): number {
    const available = data.length - at;
    if (this.state === 'block') {
      if (available < 3) return 0;
      const header = data.readUIntLE(at, 3);
      const [last, type, size] = [header & 1, (header >> 1) & 3, header >>> 3];
      if (type === 3) throw new Error('reserved block type');
      // An RLE block stores one byte; the last block is followed by the content checksum, if any.
      this.skip = (type === 1 ? 1 : size) + (last && this.checksum ? 4 : 0);
      if (last) this.state = 'frame';
      return 3;
    }
    if (available < 4) return 0;
    const magic = data.readUInt32LE(at);
    if (isSkippableMagic(magic)) {
      if (available < 8) return 0;
      this.skip = data.readUInt32LE(at + 4);
      return 8;
    }
    if (magic !== ZSTD_MAGIC) throw new Error('not a zstd frame');
    if (available < 5) return 0;
    const descriptor = data[at + 4];
    const singleSegment = (descriptor >> 5) & 1;
    const dictionaryBytes = [0, 1, 2, 4][descriptor & 3];
    const contentSizeFlag = descriptor >> 6;
    const contentSizeBytes = contentSizeFlag === 0 ? singleSegment : 1 << contentSizeFlag;
    const length = 5 + (singleSegment ? 0 : 1) + dictionaryBytes + contentSizeBytes;
    if (available < length) return 0;
    let window: number;
    if (singleSegment) {
      // The window is the content size (1, 2 + 256, 4 or 8 bytes, little-endian).
      const field = at + length - contentSizeBytes;
      window =
        contentSizeBytes === 8
          ? Number(data.readBigUInt64LE(field))
          : data.readUIntLE(field, contentSizeBytes) + (contentSizeBytes === 2 ? 256 : 0);
    } else {
      const exponent = data[at + 5] >> 3;
      const base = 2 ** (10 + exponent);
      window = base + (base / 8) * (data[at + 5] & 7);
    }
    if (window > ZSTD_MAX_WINDOW)
      throw new Error(`frame window of ${window} bytes is over the ${ZSTD_MAX_WINDOW}-byte limit`);
    this.checksum = ((descriptor >> 2) & 1) === 1;
    this.state = 'block';
    this.frames++;
    return length;
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
  return loadOptionalPackage<typeof import('@mongodb-js/zstd')>(
    '@mongodb-js/zstd',
    "zstd archives (ARCHIVE_COMPRESSION=zstd / archive: { compression: 'zstd' })",
  );
}
