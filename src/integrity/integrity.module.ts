import { Module } from '@nestjs/common';
import { IntegrityCoreModule } from 'src/integrity/integrity-core.module';
import { IntegrityController } from 'src/integrity/integrity.controller';
import { IntegrityJob } from 'src/integrity/integrity.job';

/** Tamper evidence: verification API, public keys, the chaining/checkpoint job. */
@Module({
  imports: [IntegrityCoreModule],
  controllers: [IntegrityController],
  providers: [IntegrityJob],
  exports: [IntegrityCoreModule],
})
export class IntegrityModule {}
