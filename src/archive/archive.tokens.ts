import { ArchiveManifest } from './archive-manifest';

/** The ArchiveStorage built from ARCHIVE_URL. */
export const ARCHIVE_STORAGE = Symbol('ARCHIVE_STORAGE');

/**
 * The ArchiveIntegrity that fills a manifest's `integrity` field before it is stored (src/integrity
 * provides it: seals, checkpoint and a signature over the whole manifest).
 */
export const ARCHIVE_INTEGRITY = Symbol('ARCHIVE_INTEGRITY');

export interface ArchiveIntegrity {
  /** The manifest with its `integrity` field set; throws when the archived events cannot be covered yet. */
  seal(manifest: ArchiveManifest): Promise<ArchiveManifest>;
}
