/** The ArchiveStorage built from ARCHIVE_URL. */
export const ARCHIVE_STORAGE = Symbol('ARCHIVE_STORAGE');
