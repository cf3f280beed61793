import { Inject, Injectable, Logger, OnApplicationShutdown, Optional } from '@nestjs/common';
import { Readable } from 'node:stream';
import { Pool, PoolClient } from 'pg';
import { appendSeals } from '../audit';
import { AuthUser } from '../common/auth/auth.types';
import { ChainHeadPublisher, PublishResult } from './chain-head.publisher';
import { ChainHeadStore } from './chain-head.store';
import { CheckpointSigner, PublicKeyInfo } from './checkpoint-signer';
import { DatabaseVerifier, VerifyProgress, VerifyRange, VerifyReport } from './database-verifier';
import { HEAD_LOCK_KEY, IntegrityMaintenanceRepository } from './integrity-maintenance.repository';
import { IntegrityRepository } from './integrity.repository';
import { organizationScope } from '../common/auth/tenant-scope';
import { IntegrityStatus, verificationRecords } from './verification';
import { VerificationRepository } from './verification.repository';
import { verifyLines } from './verify-progress';

export const INTEGRITY_POOL = Symbol('INTEGRITY_POOL');

/**
 * Verification for the API, and the jobs' work: chaining queued seals, signing checkpoints, publishing
 * chain heads outside the database (when a ChainHeadStore is provided).
 */
@Injectable()
export class IntegrityService implements OnApplicationShutdown {
  private readonly logger = new Logger(IntegrityService.name);
  private readonly verifier: DatabaseVerifier;
  private readonly maintenance: IntegrityMaintenanceRepository;
  private readonly verifications: VerificationRepository;
  private readonly publisher?: ChainHeadPublisher;
  private database?: Promise<string>;

  constructor(
    @Inject(INTEGRITY_POOL) private readonly pool: Pool,
    private readonly signer: CheckpointSigner,
    @Optional() private readonly heads?: ChainHeadStore,
  ) {
    this.verifier = new DatabaseVerifier(new IntegrityRepository(pool), signer.publicKeys);
    this.maintenance = new IntegrityMaintenanceRepository(pool);
    this.verifications = new VerificationRepository(pool);
    if (heads) this.publisher = new ChainHeadPublisher(heads, signer, this.maintenance);
  }

  /** The database's name: heads are kept per database in the store. */
  private databaseName(): Promise<string> {
    this.database ??= this.maintenance.databaseName().catch((error: Error) => {
      this.database = undefined;
      throw error;
    });
    return this.database;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }

  /**
   * Own organization, unless `audit:read:all` (then the one asked for, or every chain). The outcome is
   * recorded in audit_verifications (one row per chain, see verificationRecords) before it is returned.
   */
  async verify(
    user: AuthUser,
    range: VerifyRange,
    organizationId?: string,
    progress?: VerifyProgress,
  ): Promise<VerifyReport> {
    return this.verifyScoped(user, organizationScope(user, organizationId), range, progress);
  }

  /**
   * `verify` as NDJSON lines (start, progress, then the result or an error without details). The scope is
   * checked first: a 403 is thrown here, before any line. A consumer that goes away does not stop the
   * verification, which still records its outcome.
   */
  verifyStream(user: AuthUser, range: VerifyRange, organizationId?: string): Readable {
    const scope = organizationScope(user, organizationId);
    return verifyLines(
      (progress) => this.verifyScoped(user, scope, range, progress),
      (error) => this.logger.error(`Verification failed: ${errorName(error)}`),
    );
  }

  /** The organization's (or with audit:read:all and none asked for, every chain's) integrity as recorded. */
  async status(user: AuthUser, organizationId?: string): Promise<IntegrityStatus> {
    const scope = organizationScope(user, organizationId);
    return {
      organizationId: scope ?? null,
      lastVerification: await this.verifications.latest(scope),
      newestCheckpoint: await this.verifications.newestCheckpoint(scope),
      chain: await this.verifications.chain(scope),
    };
  }

  private async verifyScoped(
    user: AuthUser,
    scope: string | undefined,
    range: VerifyRange,
    progress?: VerifyProgress,
  ): Promise<VerifyReport> {
    const startedAt = new Date();
    const heads = this.heads?.source(await this.databaseName());
    const report = await this.verifier.verify(
      range,
      scope === undefined ? undefined : [scope],
      heads,
      progress,
    );
    const rows = verificationRecords(report, scope, { startedAt, finishedAt: new Date(), actorId: user.sub });
    // The report stands on its own: a record that cannot be written is logged, not the caller's failure.
    await this.verifications
      .record(rows)
      .catch((error: Error) => this.logger.error(`Verification not recorded: ${errorName(error)}`));
    return report;
  }

  /**
   * Signs every chain head that moved and writes it to the store outside the database (the head job,
   * every AUDIT_HEAD_INTERVAL_MS). Null when another replica is publishing, or no store is configured.
   * `refused`: chains that no longer extend their published head (left as evidence, see ChainHeadPublisher).
   */
  async publishHeads(now = new Date()): Promise<PublishResult | null> {
    if (!this.publisher) return null;
    const database = await this.databaseName();
    return this.maintenance.withLock(
      (client) => this.publisher!.publish(client, database, now),
      HEAD_LOCK_KEY,
    );
  }

  publicKeys(): PublicKeyInfo[] {
    return this.signer.describe();
  }

  /**
   * Chains the seals queued by transactional capture, then signs every head that moved since its last
   * checkpoint. Null when another replica holds the lock. Returns what was done.
   */
  async chainAndSign(now = new Date()): Promise<{ chained: number; signed: number } | null> {
    return this.maintenance.withLock(async (client) => {
      const chained = await this.chain(client);
      const heads = await this.maintenance.headsToSign(client);
      for (const head of heads) await this.maintenance.insertCheckpoint(client, this.signer.sign(head, now));
      if (heads.length > 0)
        this.logger.log(`Signed ${heads.length} checkpoint(s) with key ${this.signer.keyId}`);
      return { chained, signed: heads.length };
    });
  }

  /** Only chains queued seals (frequent: transactional events should not wait for the hourly checkpoint). */
  async chainQueued(): Promise<number | null> {
    return this.maintenance.withLock((client) => this.chain(client));
  }

  private async chain(client: PoolClient): Promise<number> {
    const queued = await this.maintenance.takeQueued(client);
    await appendSeals(
      client,
      queued.map((q) => ({
        orgKey: q.org_key,
        batchId: q.batch_id,
        eventCount: q.event_count,
        firstAtMs: Number(q.first_ms),
        lastAtMs: Number(q.last_ms),
        merkleRoot: q.merkle_root,
      })),
    );
    return queued.length;
  }
}

/** Name and code only: a driver's message may quote SQL or values. */
const errorName = (error: Error) => {
  const code = (error as NodeJS.ErrnoException).code;
  return `${error.name}${code ? ` ${code}` : ''}`;
};
