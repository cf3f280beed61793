import { Module } from '@nestjs/common';
import { IntegrityCoreModule } from './integrity-core.module';
import { IntegrityController } from './integrity.controller';
import { IntegrityJob } from './integrity.job';

/** Tamper evidence: verification API, public keys, the chaining/checkpoint job. */
@Module({
  imports: [IntegrityCoreModule],
  controllers: [IntegrityController],
  providers: [IntegrityJob],
  exports: [IntegrityCoreModule],
})
export class IntegrityModule {}
