import type { S3Client } from '@aws-sdk/client-s3';
import { PassThrough, Readable } from 'node:stream';
import { ArchiveObjectNotFound, ArchiveStorage, ObjectUpload } from './archive-storage';
import { loadOptionalPackage } from '../../common/packages/optional-package';

/** The AWS SDK is an optional peer: loaded when an s3:// store is configured. */
const S3_REASON = 'an s3:// archive store (ARCHIVE_URL=s3://... / archive: { url: "s3://..." })';
const sdk = () => loadOptionalPackage<typeof import('@aws-sdk/client-s3')>('@aws-sdk/client-s3', S3_REASON);
const storage = () =>
  loadOptionalPackage<typeof import('@aws-sdk/lib-storage')>('@aws-sdk/lib-storage', S3_REASON);

export interface S3StorageOptions {
  endpoint?: string;
  forcePathStyle: boolean;
  region: string;
}

/** 8 MiB parts, two in flight: memory stays ~16 MiB whatever the archive size. */
const PART_SIZE = 8 * 1024 * 1024;

/**
 * Archives in an S3 bucket (AWS or an S3-compatible store: endpoint override, path-style addressing).
 * Credentials come from the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile, role).
 * Uploads stream as multipart (lib-storage): an object appears only when the upload completes.
 */
export class S3ArchiveStorage implements ArchiveStorage {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(
    readonly url: string,
    options: S3StorageOptions,
  ) {
    const { S3Client } = sdk();
    storage(); // both packages, checked at start-up rather than at the first upload
    const parsed = new URL(url);
    this.bucket = parsed.hostname;
    this.prefix = parsed.pathname.replace(/^\/+|\/+$/g, '');
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      // Many S3-compatible stores do not understand the SDK's default flexible checksums (aws-chunked
      // trailers); our own SHA-256 covers integrity end to end.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private key(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  upload(key: string): ObjectUpload {
    const stream = new PassThrough();
    const { Upload } = storage();
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.key(key), Body: stream },
      partSize: PART_SIZE,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const done = upload.done().then(() => undefined);
    // A failed upload stops reading: unblock (and fail) the writer instead of leaving it waiting.
    done.catch((error: Error) => stream.destroy(error));
    return { stream, done };
  }

  async download(key: string): Promise<Readable> {
    const { GetObjectCommand, NoSuchKey } = sdk();
    try {
      const { Body } = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }),
      );
      return Body as Readable;
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey')
        throw new ArchiveObjectNotFound(key);
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    const { DeleteObjectCommand } = sdk();
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
  }

  destroy(): void {
    this.client.destroy();
  }
}
