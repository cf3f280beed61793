/** The archive folder's face to the rest of the package: what other folders may import. */
export { ARCHIVE_COMPRESSIONS, ArchiveCompression, decompressor, zstdUnavailable } from './archive-codec';
export { ARCHIVE_FORMATS, ArchiveFormat } from './archive-format';
export { ArchiveManifest, filesDigest, parseManifest } from './archive-manifest';
export { duckDbUnavailable } from './parquet/duckdb';
export { checkLocalParquetFiles, parquetLines } from './parquet/parquet-read';
export { Sha256Meter } from './archive-stream';
export { ArchiveController } from './archive.controller';
export { ArchiveJob } from './archive.job';
export { ArchiveModule } from './archive.module';
export { ArchiveService } from './archive.service';
export { ARCHIVE_INTEGRITY, ArchiveIntegrity } from './archive.tokens';
export { RestoreService } from './restore.service';
export { ArchiveQuery, ArchiveQueryResult, ArchiveQueryService } from './parquet/archive-query.service';
export { ArchiveObjectNotFound, ArchiveStorage, getText, putText } from './storage/archive-storage';
export { createArchiveStorage } from './storage/create-archive-storage';
