import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import type { DestinationFormat } from '../../../src/streaming/streaming.types';
import { freePort } from '../process';
import { receivedFromRecord } from './nats';
import { ReceiverDestination, TestReceiver } from './receiver';

/** s3rver's fixed credentials: it checks request signatures against them. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** An object of the receiver's bucket, as stored. */
export interface S3StoredObject {
  key: string;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  /** The object's lines (gunzipped when gzip), each parsed as JSON. */
  records: Record<string, unknown>[];
}

export interface S3Receiver extends TestReceiver {
  readonly endpoint: string;
  readonly bucket: string;
  readonly prefix: string;
  /** Every object under the prefix, in key order. */
  objects(): Promise<S3StoredObject[]>;
}

/**
 * A real S3 API (s3rver over a temp directory, on a free loopback port) with one bucket. received() lists
 * every object under the destination's prefix in key order, reads each (gunzip when gzip) and parses each
 * NDJSON line: an object written twice (same key) counts once, a second object with the same events counts
 * twice. stop()/start() close and reopen the server on the same port and directory.
 */
export async function startS3Receiver(): Promise<S3Receiver> {
  const dir = mkdtempSync(join(tmpdir(), 's3-receiver-'));
  const port = await freePort();
  const bucket = 'audit-stream';
  const prefix = 'siem/audit';
  const endpoint = `http://127.0.0.1:${port}`;
  let server: S3rver | null = null;
  const up = async () => {
    if (server) return;
    const next = new S3rver({
      port,
      address: '127.0.0.1',
      directory: dir,
      silent: true,
      configureBuckets: [{ name: bucket }],
    });
    await next.run();
    server = next;
  };
  const down = async () => {
    const running = server;
    if (!running) return;
    server = null;
    const closed = running.close();
    // Keep-alive connections would hold close() open: an outage cuts them.
    running.httpServer.closeAllConnections();
    await closed;
  };
  await up();
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });

  const objects = async (): Promise<S3StoredObject[]> => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }),
      );
      keys.push(...(page.Contents ?? []).map((c) => c.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    keys.sort();
    const out: S3StoredObject[] = [];
    for (const key of keys) {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = Buffer.from(await object.Body!.transformToByteArray());
      const gzip = object.ContentEncoding === 'gzip' || key.endsWith('.gz');
      const text = (gzip ? gunzipSync(bytes) : bytes).toString('utf8');
      out.push({
        key,
        contentType: object.ContentType,
        contentEncoding: object.ContentEncoding,
        records: text
          .split('\n')
          .filter((line) => line.length > 0)
          .map((line) => JSON.parse(line) as Record<string, unknown>),
      });
    }
    return out;
  };

  return {
    name: 's3 (s3rver)',
    endpoint,
    bucket,
    prefix,
    destination: (format: DestinationFormat = 'json'): ReceiverDestination => ({
      kind: 's3',
      format,
      settings: { bucket, prefix, endpoint, forcePathStyle: true, region: 'us-east-1', timeoutMs: 3_000 },
      secret: { ...S3RVER_CREDENTIALS },
    }),
    objects,
    received: async () => (await objects()).flatMap((o) => o.records.map(receivedFromRecord)),
    stop: down,
    start: up,
    destroy: async () => {
      client.destroy();
      await down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
