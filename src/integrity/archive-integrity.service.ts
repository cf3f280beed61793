import { Inject, Injectable } from '@nestjs/common';
import { Pool } from 'pg';
import { ArchiveManifest } from '../archive';
import { ArchiveIntegrity } from '../archive';
import { archiveIntegritySection, retainBoundaryLeaves } from './archive-section';
import { CheckpointSigner } from './checkpoint-signer';
import { INTEGRITY_POOL, IntegrityService } from './integrity.service';

const LOCK_ATTEMPTS = 100;
const LOCK_RETRY_MS = 100;

/**
 * Seals an archive manifest before the archive job stores it: chains what is queued and signs fresh
 * checkpoints (so a checkpoint follows every seal of the archived events), embeds the integrity section of
 * the archived range, keeps the hashes the neighbouring months' archives will need, and signs the whole
 * manifest. The archive then verifies offline with its file, its
 * manifest and the public key (`npm run integrity -- verify-archive`).
 */
@Injectable()
export class ArchiveIntegrityService implements ArchiveIntegrity {
  constructor(
    @Inject(INTEGRITY_POOL) private readonly pool: Pool,
    private readonly integrity: IntegrityService,
    private readonly signer: CheckpointSigner,
  ) {}

  async seal(manifest: ArchiveManifest): Promise<ArchiveManifest> {
    await this.chainAndSign();
    const [from, to] = [new Date(manifest.source.from), new Date(manifest.source.to)];
    const section = await archiveIntegritySection(this.pool, from, to);
    const unsigned = section.chains.find((chain) => !chain.checkpoint);
    if (unsigned)
      throw new Error(
        `no signed checkpoint covers the seals of organization ${JSON.stringify(unsigned.organizationId)} in ${manifest.source.partition}`,
      );
    await retainBoundaryLeaves(this.pool, section, from, to);
    const integrity = section as unknown as Record<string, unknown>;
    const signature = this.signer.signManifest({ ...manifest, integrity });
    return { ...manifest, integrity: { ...integrity, manifestSignature: signature } };
  }

  /** chainAndSign, waiting out the integrity job if it holds the lock (it does the same work). */
  private async chainAndSign(): Promise<void> {
    for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
      if (await this.integrity.chainAndSign()) return;
      await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
    }
    throw new Error('the integrity lock stayed busy: cannot sign a checkpoint for the archive');
  }
}
