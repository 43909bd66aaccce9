/**
 * Two projects: `npm test` runs both, `npm run test:unit` / `npm run test:integration` one each
 * (`jest --selectProjects <name>`). A project's globalSetup runs only when one of its tests is selected.
 * Those scripts end in `--config jest.config.js` so that what follows them (`npm run test:unit -- test/unit/scim`)
 * is read as a test path, not as one more project name.
 */
const shared = {
  testEnvironment: 'node',
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      ...shared,
      // The pure parts and the intent workflows with mocked activities: no dev server, seconds in all.
      displayName: 'unit',
      roots: ['<rootDir>/test/unit'],
      // Installs the pinned time-skipping test server into .tools/ when missing.
      globalSetup: '<rootDir>/test/unit/support/globalSetup.ts',
      setupFilesAfterEnv: ['<rootDir>/test/unit/support/setup.ts'],
    },
    {
      ...shared,
      // The whole stack: one Temporal dev server for the run, real SCIM servers, the API over HTTP.
      displayName: 'integration',
      roots: ['<rootDir>/test'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/unit/'],
      globalSetup: '<rootDir>/test/support/globalSetup.ts',
      globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
    },
  ],
  // Jest reads the timeout from the top level only; the unit project lowers its own in test/unit/support/setup.ts.
  testTimeout: 120_000,
  // Integration suites share one Temporal dev server; two workers match the two cores.
  maxWorkers: 2,
};
