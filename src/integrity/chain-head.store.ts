import { createHash } from 'node:crypto';
import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ArchiveObjectNotFound, ArchiveStorage, getText, putText } from '../archive';
import { createArchiveStorage } from '../archive';
import { AUDIT_CONFIG, AuditTrailConfig } from '../common/config/audit-config';
import {
  decodeHead,
  decodeIndex,
  encodeHead,
  ExternalHead,
  ExternalHeadSource,
  HeadIndex,
  SignedHead,
} from './chain-head';

/** Reads of one verification run in parallel, at most this many at a time (S3: one request each). */
const READ_CONCURRENCY = 8;

/** `work` over `items`, at most `limit` at a time; results in order. */
export async function mapLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * The published chain heads, in the archive store (ARCHIVE_URL), under `chain-heads/<database>/`: one
 * small JSON object per organization (named by the SHA-256 of its key), and `index.json` listing them.
 * The store is outside the database's reach: a superuser who deletes the tail of a chain (events, seals,
 * checkpoints) cannot delete the signed head that proves it existed. On S3, give the bucket versioning and
 * Object Lock (compliance mode, retention at least as long as the trail's) and the application
 * credentials no s3:DeleteObjectVersion / s3:BypassGovernanceRetention: every head ever written then stays
 * retrievable, an overwrite only adds a version. Heads are per database name, so databases that share a
 * store (tests, staging) never read each other's.
 */
@Injectable()
export class ChainHeadStore implements OnApplicationShutdown {
  private readonly storage: ArchiveStorage;

  constructor(@Inject(AUDIT_CONFIG) config: Pick<AuditTrailConfig, 'archive'>) {
    this.storage = createArchiveStorage(config.archive);
  }

  onApplicationShutdown(): void {
    (this.storage as { destroy?: () => void }).destroy?.();
  }

  private prefix(database: string): string {
    return `chain-heads/${database.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  }

  private headKey(database: string, orgKey: string): string {
    return `${this.prefix(database)}/${createHash('sha256').update(orgKey).digest('hex')}.json`;
  }

  private async readText(key: string): Promise<string | null> {
    try {
      return await getText(this.storage, key);
    } catch (error) {
      if (error instanceof ArchiveObjectNotFound) return null;
      throw error;
    }
  }

  /** The published head of one organization; null when none was published. */
  async read(database: string, orgKey: string): Promise<SignedHead | null> {
    const json = await this.readText(this.headKey(database, orgKey));
    return json === null ? null : decodeHead(json);
  }

  async write(database: string, head: SignedHead): Promise<void> {
    await putText(this.storage, this.headKey(database, head.orgKey), encodeHead(head));
  }

  async readIndex(database: string): Promise<HeadIndex | null> {
    const json = await this.readText(`${this.prefix(database)}/index.json`);
    return json === null ? null : decodeIndex(json);
  }

  async writeIndex(database: string, orgKeys: string[], at: Date): Promise<void> {
    const index = { version: 1, orgKeys, updatedAt: at.toISOString() };
    await putText(this.storage, `${this.prefix(database)}/index.json`, JSON.stringify(index));
  }

  /** The heads of `database`, for the verifier; a head that cannot be read is reported, not thrown. */
  source(database: string): ExternalHeadSource {
    return {
      load: async (orgKeys) => {
        let keys = orgKeys;
        let indexError: string | undefined;
        if (keys === undefined) {
          try {
            keys = (await this.readIndex(database))?.orgKeys ?? [];
          } catch (error) {
            indexError = (error as Error).message;
            keys = [];
          }
        }
        const found = await mapLimit(keys, READ_CONCURRENCY, async (orgKey): Promise<ExternalHead> => {
          try {
            return { head: await this.read(database, orgKey) };
          } catch (error) {
            return { error: (error as Error).message };
          }
        });
        return { heads: new Map(keys.map((k, i) => [k, found[i]])), indexError };
      },
    };
  }
}
