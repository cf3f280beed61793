import { FileArchiveStorage } from 'src/archive/storage/file-archive.storage';
import { S3ArchiveStorage } from 'src/archive/storage/s3-archive.storage';
import { ArchiveStorage } from 'src/archive/storage/archive-storage';
import { AppConfig } from 'src/common/config/environment';

/** The store ARCHIVE_URL names (validated at boot: file:/// or s3://). */
export function createArchiveStorage(config: AppConfig['archive']): ArchiveStorage {
  if (config.url.startsWith('s3://')) {
    return new S3ArchiveStorage(config.url, {
      endpoint: config.s3Endpoint,
      forcePathStyle: config.s3ForcePathStyle,
      region: config.s3Region,
    });
  }
  return new FileArchiveStorage(config.url);
}
