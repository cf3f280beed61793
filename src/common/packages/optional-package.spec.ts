import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOptionalPackage, MissingPackageError } from './optional-package';

describe('loadOptionalPackage', () => {
  it('names the missing package, the mode that needs it and the fix', () => {
    let thrown: unknown;
    try {
      loadOptionalPackage('nest-audit-trail-not-installed', "AUDIT_DELIVERY=redis / delivery: 'redis'");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(MissingPackageError);
    expect((thrown as Error).message).toBe(
      `The package "nest-audit-trail-not-installed" is needed for AUDIT_DELIVERY=redis / delivery: 'redis': npm install nest-audit-trail-not-installed`,
    );
  });

  it('returns the package when it is installed', () => {
    const redis = loadOptionalPackage<typeof import('ioredis')>('ioredis', 'the test');
    expect(typeof redis.Redis).toBe('function');
  });

  it('does not blame the package when one of its own dependencies is missing (a broken install)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'optional-package-'));
    try {
      const broken = join(dir, 'broken.js');
      writeFileSync(broken, "require('nest-audit-trail-missing-dependency');\n");
      expect(() => loadOptionalPackage(broken, 'the test')).toThrow(
        /Cannot find module 'nest-audit-trail-missing-dependency'/,
      );
      expect(() => loadOptionalPackage(broken, 'the test')).not.toThrow(MissingPackageError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
