import { Global, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ARCHIVE_INTEGRITY } from '../archive';
import { AUDIT_CONFIG } from '../common/config/audit-config';
import { AuditTrailConfig } from '../common/config/audit-config';
import { poolFromDataSource } from '../common/database/pg-pool';
import { ArchiveIntegrityService } from './archive-integrity.service';
import { ChainHeadStore } from './chain-head.store';
import { CheckpointSigner } from './checkpoint-signer';
import { INTEGRITY_POOL, IntegrityService } from './integrity.service';

/**
 * Signing key, verification and chaining, and the ARCHIVE_INTEGRITY the archive job seals manifests with
 * (global, so ArchiveModule needs no import of this folder). No jobs, no routes: the archive CLI uses it.
 */
@Global()
@Module({
  providers: [
    IntegrityService,
    ChainHeadStore,
    ArchiveIntegrityService,
    { provide: ARCHIVE_INTEGRITY, useExisting: ArchiveIntegrityService },
    {
      provide: CheckpointSigner,
      useFactory: (config: AuditTrailConfig) =>
        new CheckpointSigner(config.integrity.signingKey, config.integrity.verifyKeys),
      inject: [AUDIT_CONFIG],
    },
    {
      // Verification streams whole ranges: its own connections, never the API's.
      provide: INTEGRITY_POOL,
      useFactory: (dataSource: DataSource) => poolFromDataSource(dataSource, 3, 'nest-audit-trail:integrity'),
      inject: [DataSource],
    },
  ],
  exports: [IntegrityService, CheckpointSigner, ARCHIVE_INTEGRITY],
})
export class IntegrityCoreModule {}
