import { Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG } from 'src/common/config/app-config.module';
import { AppConfig } from 'src/common/config/environment';
import { poolFromDataSource } from 'src/common/database/pg-pool';
import { CheckpointSigner } from 'src/integrity/checkpoint-signer';
import { IntegrityController } from 'src/integrity/integrity.controller';
import { IntegrityJob } from 'src/integrity/integrity.job';
import { INTEGRITY_POOL, IntegrityService } from 'src/integrity/integrity.service';

/** Tamper evidence: verification API, public keys, the chaining/checkpoint job. */
@Module({
  controllers: [IntegrityController],
  providers: [
    IntegrityService,
    IntegrityJob,
    {
      provide: CheckpointSigner,
      useFactory: (config: AppConfig) =>
        new CheckpointSigner(config.integrity.signingKey, config.integrity.verifyKeys),
      inject: [APP_CONFIG],
    },
    {
      // Verification streams whole ranges: its own connections, never the API's.
      provide: INTEGRITY_POOL,
      useFactory: (dataSource: DataSource) => poolFromDataSource(dataSource, 3, 'nest-audit-trail:integrity'),
      inject: [DataSource],
    },
  ],
  exports: [IntegrityService],
})
export class IntegrityModule {}
