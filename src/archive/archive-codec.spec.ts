import { decompress as libzstdDecompress } from '@mongodb-js/zstd';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import {
  ARCHIVE_COMPRESSIONS,
  ArchiveCompression,
  compressor,
  decompressor,
  extensionOf,
  ZSTD_MAX_WINDOW,
  ZstdFrameGuard,
} from './archive-codec';

/** NDJSON-like text that compresses like archive lines: repeated structure, random ids. */
function lines(count: number): Buffer {
  const out: string[] = [];
  for (let i = 0; i < count; i++)
    out.push(
      `["${randomBytes(16).toString('hex')}", "account", ${i}, {"plan": "pro", "seats": ${i % 50}}]\n`,
    );
  return Buffer.from(out.join(''));
}

async function through(input: Buffer, stage: NodeJS.ReadWriteStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      chunks.push(chunk);
      done();
    },
  });
  // Fed in 64 KiB pieces, as a COPY or a file read delivers it.
  const pieces = function* () {
    for (let at = 0; at < input.length; at += 65_536) yield input.subarray(at, at + 65_536);
  };
  await pipeline(Readable.from(pieces()), stage, sink);
  return Buffer.concat(chunks);
}

describe('archive codecs', () => {
  // ~10 MiB: more than two zstd frames of 4 MiB of input.
  const data = lines(110_000);

  it.each(ARCHIVE_COMPRESSIONS)('%s round-trips a multi-megabyte stream byte for byte', async (kind) => {
    const packed = await through(data, compressor(kind));
    expect(packed.length).toBeLessThan(data.length / 2);
    expect((await through(packed, decompressor(kind))).equals(data)).toBe(true);
  });

  it('writes zstd as standard frames that libzstd itself decodes', async () => {
    const packed = await through(data, compressor('zstd'));
    expect(packed.readUInt32LE(0)).toBe(0xfd2fb528); // zstd frame magic
    expect((await libzstdDecompress(packed)).equals(data)).toBe(true);
  });

  it('keeps gzip a single standard gzip stream', async () => {
    expect(gunzipSync(await through(data, compressor('gzip'))).equals(data)).toBe(true);
  });

  it.each(ARCHIVE_COMPRESSIONS)(
    '%s writes a valid file for no input at all (an empty month)',
    async (kind) => {
      const packed = await through(Buffer.alloc(0), compressor(kind));
      expect(packed.length).toBeGreaterThan(0);
      expect((await through(packed, decompressor(kind))).length).toBe(0);
      if (kind === 'zstd') expect((await libzstdDecompress(packed)).length).toBe(0);
    },
  );

  it('fails on a zstd stream that is cut short or is not zstd, as corrupt data (Z_DATA_ERROR)', async () => {
    const packed = await through(data, compressor('zstd'));
    const corrupt = { message: expect.stringMatching(/^zstd: /), code: 'Z_DATA_ERROR' };
    await expect(
      through(packed.subarray(0, packed.length - 100), decompressor('zstd')),
    ).rejects.toMatchObject(corrupt);
    await expect(
      through(Buffer.from('not zstd at all, not at all'), decompressor('zstd')),
    ).rejects.toMatchObject(corrupt);
  });

  describe('zstd frame guard', () => {
    /** A frame header: magic, descriptor, then the given window descriptor / content size bytes. */
    const frameHeader = (descriptor: number, rest: number[]) =>
      Buffer.from([0x28, 0xb5, 0x2f, 0xfd, descriptor, ...rest]);
    const corrupt = (pattern: RegExp) => ({ message: expect.stringMatching(pattern), code: 'Z_DATA_ERROR' });

    it('passes every frame written here, however the stream is cut into chunks', async () => {
      const packed = await through(data, compressor('zstd'));
      for (const size of [1, 3, 7, 4096]) {
        const guard = new ZstdFrameGuard();
        for (let at = 0; at < packed.length; at += size) guard.check(packed.subarray(at, at + size));
        expect(guard.frames).toBe(Math.ceil(data.length / (4 * 1024 * 1024))); // 4 MiB of input each
      }
      // A skippable frame (metadata some tools add) in front decodes too.
      const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
      expect((await through(Buffer.concat([skippable, packed]), decompressor('zstd'))).equals(data)).toBe(
        true,
      );
    });

    it('refuses a header claiming a 2 GiB window before the decoder allocates it', async () => {
      // Single segment, 4-byte content size of 2 GiB - 1: the window is the content size.
      const singleSegment = frameHeader(0b1010_0000, [0xff, 0xff, 0xff, 0x7f]);
      await expect(through(singleSegment, decompressor('zstd'))).rejects.toMatchObject(
        corrupt(/^zstd: frame window of 2147483647 bytes is over the 134217728-byte limit$/),
      );
      // Window descriptor: exponent 21 -> 2^31 bytes.
      const windowed = frameHeader(0b0000_0000, [21 << 3]);
      await expect(through(windowed, decompressor('zstd'))).rejects.toMatchObject(corrupt(/over the/));
    });

    it('accepts windows up to the limit zstd -d applies by default', () => {
      expect(ZSTD_MAX_WINDOW).toBe(2 ** 27);
      expect(() => new ZstdFrameGuard().check(frameHeader(0, [17 << 3]))).not.toThrow(); // 2^27
      expect(() => new ZstdFrameGuard().check(frameHeader(0, [(17 << 3) | 1]))).toThrow(/over the/);
    });

    it('refuses bytes that are not a frame where the next frame must start', async () => {
      const packed = await through(lines(100), compressor('zstd'));
      await expect(
        through(Buffer.concat([packed, Buffer.from('trailing garbage')]), decompressor('zstd')),
      ).rejects.toMatchObject(corrupt(/^zstd: not a zstd frame$/));
    });
  });

  it.each<[ArchiveCompression, string]>([
    ['gzip', 'gz'],
    ['zstd', 'zst'],
    ['brotli', 'br'],
  ])('names %s files .%s', (kind, extension) => {
    expect(extensionOf(kind)).toBe(extension);
  });
});
