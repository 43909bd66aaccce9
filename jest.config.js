/**
 * Four projects: `unit`, `integration`, `postgres` (suites again on PostgreSQL) and `scale` (the multi-process test).
 * `npm test` runs the first three together, then `scale` alone; `npm run test:<project>` runs one
 * (`jest --selectProjects <name>`). A project's globalSetup runs only when one of its tests is selected.
 * Those scripts end in `--config jest.config.js` so that what follows them (`npm run test:unit -- test/unit/scim`)
 * is read as a test path, not as one more project name.
 */
const shared = {
  testEnvironment: 'node',
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
};

/** The suites the `postgres` project runs on PostgreSQL (paths below test/, without `.test.ts`). */
const postgresSuites = [
  'unit/directory/directoryStore',
  'unit/directory/creationClaims',
  'unit/directory/rateLimits',
  'unit/directory/outboxLeases',
  'unit/directory/deletionGuard',
  'unit/planner/intentPlanner',
  'unit/provisioning/groupMembers',
  'unit/provisioning/compare',
  'api',
  'provisioning',
  'userLifecycle',
  'outbox',
  'creation',
  'bulkProvisioning',
  'reconcile',
  'import',
  'roles',
  'switches',
  'invariants',
  'deletionGuard',
  'operationStatus',
  'sharedDirectory',
  'profiles',
];

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
      testPathIgnorePatterns: [
        '/node_modules/',
        '<rootDir>/test/unit/',
        '<rootDir>/test/multiProcess.test.ts',
        '<rootDir>/test/rateLimitsAcrossProcesses.test.ts',
      ],
      globalSetup: '<rootDir>/test/support/globalSetup.ts',
      globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
    },
    {
      ...shared,
      // The same suites again on a real PostgreSQL (a throwaway cluster the globalSetup starts): the store's
      // contract tests, and the integration suites whose harness holds the directory. The suites about SQLite's
      // files, the SCIM test servers, the UI or replays do not depend on the store and run once, above.
      displayName: 'postgres',
      roots: ['<rootDir>/test'],
      testMatch: postgresSuites.map((suite) => `<rootDir>/test/${suite}.test.ts`),
      setupFiles: ['<rootDir>/test/support/onPostgres.ts'],
      globalSetup: '<rootDir>/test/support/globalSetup.ts',
      globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
    },
    {
      ...shared,
      // Scale-out: five scimflow processes on one PostgreSQL, which take the machine's two cores. Run on its own
      // (`npm test` runs it after the other projects): beside other suites, both would be starved into timeouts.
      displayName: 'scale',
      roots: ['<rootDir>/test'],
      testMatch: ['<rootDir>/test/multiProcess.test.ts', '<rootDir>/test/rateLimitsAcrossProcesses.test.ts'],
      globalSetup: '<rootDir>/test/support/globalSetup.ts',
      globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
    },
  ],
  // Jest reads the timeout from the top level only; the unit project lowers its own in test/unit/support/setup.ts.
  testTimeout: 120_000,
  // Integration suites share one Temporal dev server; two workers match the two cores.
  maxWorkers: 2,
};
