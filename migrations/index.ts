import { CreateAuditEvents1795390000000 } from './1795390000000-CreateAuditEvents';
import { AuditSearchAndStats1795390000002 } from './1795390000002-AuditSearchAndStats';
import { TenantFirstReadIndexes1795390000003 } from './1795390000003-TenantFirstReadIndexes';
import { PartitionLifecycle1795390000010 } from './1795390000010-PartitionLifecycle';
import { StatsOverWarmPartitions1795390000011 } from './1795390000011-StatsOverWarmPartitions';
import { AuditIntegrity1795390000020 } from './1795390000020-AuditIntegrity';
import { AppendOnlyAuditEvents1795390000021 } from './1795390000021-AppendOnlyAuditEvents';
import { ArchivedBoundaryLeaves1795390000030 } from './1795390000030-ArchivedBoundaryLeaves';
import { PersonalDataKeys1795390000040 } from './1795390000040-PersonalDataKeys';
import { ZstdArchives1795390000050 } from './1795390000050-ZstdArchives';
import { AuditDeadLetters1795390000060 } from './1795390000060-AuditDeadLetters';
import { GuardPartitionTruncate1795390000070 } from './1795390000070-GuardPartitionTruncate';
import { StatsActorsRecent1795390000080 } from './1795390000080-StatsActorsRecent';
import { AuditVerifications1795390000081 } from './1795390000081-AuditVerifications';
import { HistoryGrouping1795390000090 } from './1795390000090-HistoryGrouping';
import { ParquetArchives1795390000110 } from './1795390000110-ParquetArchives';
import { AuditStreaming1795390000100 } from './1795390000100-AuditStreaming';
import { WalCapture1795390000120 } from './1795390000120-WalCapture';

// Listed explicitly (not globbed) so the same list works from ts (tests) and the built js.
/** The audit schema, in order: what `nest-audit-trail migrate` runs, and what an app adds to its own DataSource. */
export const AUDIT_MIGRATIONS = [
  CreateAuditEvents1795390000000,
  AuditSearchAndStats1795390000002,
  TenantFirstReadIndexes1795390000003,
  PartitionLifecycle1795390000010,
  StatsOverWarmPartitions1795390000011,
  AuditIntegrity1795390000020,
  AppendOnlyAuditEvents1795390000021,
  ArchivedBoundaryLeaves1795390000030,
  PersonalDataKeys1795390000040,
  ZstdArchives1795390000050,
  AuditDeadLetters1795390000060,
  GuardPartitionTruncate1795390000070,
  StatsActorsRecent1795390000080,
  AuditVerifications1795390000081,
  HistoryGrouping1795390000090,
  AuditStreaming1795390000100,
  ParquetArchives1795390000110,
  WalCapture1795390000120,
];
