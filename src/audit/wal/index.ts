export { AuditWalModule } from './audit-wal.module';
export { AuditWalHealthIndicator } from './wal-health.indicator';
export { WalCaptureService } from './wal-capture.service';
export type { AuditWalOptions, WalEntityOption } from './wal-options';
export type { WalSlotState, WalStatus } from './wal-status';
