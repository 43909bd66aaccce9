import type { Keyring } from '../security/keyring';
import { PostgresDirectoryStore } from './postgres/postgresStore';
import { SqliteDirectoryStore } from './sqlite/sqliteStore';
import type { DirectoryStore } from './store';

export interface DirectoryLocation {
  /** `postgres://…`: the directory on PostgreSQL, shared by any number of processes on any hosts. */
  url?: string;
  poolSize?: number;
  /** Otherwise this SQLite file, shared by the processes of one host. */
  dbFile: string;
}

/** The directory where the configuration puts it (`SCIMFLOW_DATABASE_URL`, else the SQLite file). */
export function openDirectoryStore(
  location: DirectoryLocation,
  options: { keyring: Keyring; notice?: (message: string) => void },
): Promise<DirectoryStore> {
  return location.url
    ? PostgresDirectoryStore.open(location.url, { ...options, poolSize: location.poolSize })
    : SqliteDirectoryStore.open(location.dbFile, options);
}

/** Which store, for logs: never the URL itself, which holds a password. */
export function describeDirectoryLocation(location: DirectoryLocation): string {
  if (!location.url) return `SQLite ${location.dbFile}`;
  const url = new URL(location.url);
  return `PostgreSQL ${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname}`;
}

/**
 * The directory a process's configuration names (`database.url`, else `dbFile`), opened and logged by where it is:
 * what `npm start`, `npm run api` and `npm run worker` do at start-up.
 */
export async function openConfiguredDirectory(
  config: { database: { url?: string; poolSize?: number }; dbFile: string },
  keyring: Keyring,
  logger: { info(fields: object, message: string): void; warn(message: string): void },
): Promise<DirectoryStore> {
  const location = { ...config.database, dbFile: config.dbFile };
  const store = await openDirectoryStore(location, { keyring, notice: (message) => logger.warn(message) });
  logger.info({ directory: describeDirectoryLocation(location) }, 'directory store open');
  return store;
}
