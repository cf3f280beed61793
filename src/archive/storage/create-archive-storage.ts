import { FileArchiveStorage } from './file-archive.storage';
import { S3ArchiveStorage } from './s3-archive.storage';
import { ArchiveStorage } from './archive-storage';
import { AuditTrailConfig } from '../../common/config/audit-config';

/** The store ARCHIVE_URL names (validated at boot: file:/// or s3://). */
export function createArchiveStorage(config: AuditTrailConfig['archive']): ArchiveStorage {
  if (config.url.startsWith('s3://')) {
    return new S3ArchiveStorage(config.url, {
      endpoint: config.s3Endpoint,
      forcePathStyle: config.s3ForcePathStyle,
      region: config.s3Region,
    });
  }
  return new FileArchiveStorage(config.url);
}
