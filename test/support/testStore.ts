import { Keyring } from '../../src/security/keyring';
import { PostgresDirectoryStore } from '../../src/directory/postgres/postgresStore';
import { SqliteDirectoryStore } from '../../src/directory/sqlite/sqliteStore';
import type { DirectoryStore } from '../../src/directory/store';
import { freshDatabaseUrl } from './postgres';

/**
 * Which store the suites run on: SQLite, or PostgreSQL in the `postgres` jest project (jest.config.js), which runs
 * the store's contract tests and the integration suites again on a real server.
 */
export const testStoreKind = (): 'sqlite' | 'postgres' =>
  process.env.SCIMFLOW_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

/** A new, empty directory store of the run's kind: SQLite in memory, or a database of its own on the test cluster. */
export async function openTestStore(keyring = new Keyring(Keyring.generateKey())): Promise<DirectoryStore> {
  if (testStoreKind() === 'sqlite') return SqliteDirectoryStore.open(':memory:', { keyring });
  return PostgresDirectoryStore.open(await freshDatabaseUrl(), { keyring, poolSize: 4 });
}
