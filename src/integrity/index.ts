/** The integrity folder's face to the rest of the package: what other folders may import. */
export { IntegrityCoreModule } from './integrity-core.module';
export { IntegrityController } from './integrity.controller';
export { IntegrityJob } from './integrity.job';
export { archiveIntegritySection } from './archive-section';
export { verifyArchive } from './archive-verifier';
export { keyIdOf } from './checkpoint-statement';
export { CheckpointSigner } from './checkpoint-signer';
export { ChainHeadStore } from './chain-head.store';
export { DatabaseVerifier } from './database-verifier';
export type { VerifyReport } from './database-verifier';
export { IntegrityRepository } from './integrity.repository';
