/**
 * Loads an optional peer dependency when a configured mode first needs it (ioredis for Redis delivery and the
 * query cache, the AWS SDK for an s3:// archive, @mongodb-js/zstd for zstd archives), so that an application
 * that uses none of these never installs them. Missing, it fails at start-up naming the package, what needs it
 * and the command that fixes it, in the way of @nestjs/terminus' `checkPackages`.
 *
 * `reason` names the mode as both an environment variable and a module option, e.g.
 * `AUDIT_DELIVERY=redis / delivery: 'redis'`. Call sites keep `import type` for the package's types.
 */
export function loadOptionalPackage<T>(name: string, reason: string): T {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
  } catch (error) {
    // Only the package itself missing; a broken install (one of its own dependencies missing) says so as is.
    if (isNotFound(error, name)) throw new MissingPackageError(name, reason, error);
    throw error;
  }
}

export class MissingPackageError extends Error {
  constructor(
    readonly packageName: string,
    readonly reason: string,
    cause?: unknown,
  ) {
    super(`The package "${packageName}" is needed for ${reason}: npm install ${packageName}`, { cause });
    this.name = 'MissingPackageError';
  }
}

function isNotFound(error: unknown, name: string): boolean {
  const { code, message } = error as NodeJS.ErrnoException;
  if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') return false;
  // "Cannot find module 'ioredis'" (CommonJS), "Cannot find package 'ioredis'" (ESM), and under Jest
  // "Cannot find module 'ioredis' from '...'".
  return new RegExp(`Cannot find (module|package) '${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}'`).test(
    String(message),
  );
}
