// The `postgres` jest project: every store the suites open (test/support/testStore.ts) is a PostgreSQL database.
process.env.SCIMFLOW_TEST_STORE = 'postgres';
