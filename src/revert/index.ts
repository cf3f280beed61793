/** The revert folder's face: what the package exports (src/index.ts) and what the admin module mounts. */
export { AuditRevertModule } from './revert.module';
export { AuditRevertService } from './revert.service';
export { RevertController } from './revert.controller';
export type {
  AuditRevertHandler,
  AuditRevertHandlerRegistration,
  AuditRevertOptions,
  AuditRevertRequest,
  RequestRevertPreview,
  RequestRevertResult,
  RevertPlan,
  RevertPreview,
  RevertRequestInput,
  RevertResourceInput,
  RevertResult,
  RevertSkippedField,
  RevertSkippedResource,
  RevertSkipReason,
  RevertTarget,
} from './revert.types';
