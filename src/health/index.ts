/** The health folder's face: the Terminus indicators and the module that provides them. */
export { AuditHealthModule } from './audit-health.module';
export {
  AuditLagHealthIndicator,
  AuditPartitionsHealthIndicator,
  AuditPipelineHealthIndicator,
} from './audit-health.indicators';
export { AuditReplicasHealthIndicator } from './replicas-health.indicator';
