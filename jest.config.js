/**
 * Three projects, run together by `npm test`: unit (services and modules, no HTTP server),
 * component (the app in process over HTTP), end-to-end (the built process, workshops, README).
 * `npx jest --selectProjects unit` runs one.
 */
const shared = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  setupFiles: ['<rootDir>/test/setup-env.js'],
  testTimeout: 60000,
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 60000,
  coverageProvider: 'v8',
  // Files that declare only types compile to nothing; v8 would count them as uncovered.
  collectCoverageFrom: [
    'src/**/*.ts',
    '!src/generated/**',
    '!src/main.ts',
    '!src/services/kms/key-management.ts',
    '!src/services/kms/embedded/key-record.ts',
    '!src/services/storage/object-store.ts',
    '!src/services/objects/encryption-mode.ts',
    '!src/services/objects/modes/mode-family.ts',
  ],
  coverageReporters: ['text-summary', 'json-summary'],
  coverageThreshold: { global: { lines: 97, branches: 88, functions: 96, statements: 97 } },
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts', '<rootDir>/test/services/**/*.test.ts'] },
    { ...shared, displayName: 'component', testMatch: ['<rootDir>/test/routes/**/*.test.ts'] },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts', '<rootDir>/test/workshops/**/*.test.ts', '<rootDir>/test/readme.test.ts'],
    },
  ],
};
