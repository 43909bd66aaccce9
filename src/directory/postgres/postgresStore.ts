import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  Migrator,
  PostgresDialect,
} from 'kysely';
import { Pool } from 'pg';
import type { Keyring } from '../../security/keyring';
import { type CredentialsReport, sealAppCredentials, unreadableNotice } from '../kysely/appCredentials';
import type { StoreDialect } from '../kysely/dialect';
import { directoryQueries } from '../kysely/directoryQueries';
import type { Tables } from '../kysely/tables';
import type { DirectoryStore } from '../store';
import { migrations } from './migrations';

const sqlState = (error: unknown) =>
  typeof error === 'object' && error !== null ? (error as { code?: string }).code : undefined;
const constraintOf = (error: unknown) => (error as { constraint?: string }).constraint ?? '';

/** PostgreSQL answers SQLSTATE 23505 for any unique key; the primary keys are the constraints named `*_pkey`/`*_pk`. */
export const postgresStoreDialect: StoreDialect = {
  isUniqueViolation: (error) => sqlState(error) === '23505' && !/_pk(ey)?$/.test(constraintOf(error)),
  isPrimaryKeyViolation: (error) => sqlState(error) === '23505' && /_pk(ey)?$/.test(constraintOf(error)),
};

/**
 * The key of the lock every directory transaction holds until it ends (an arbitrary constant: "scimflow").
 *
 * The store's transactions were written for SQLite, where a transaction that writes holds the database's one write
 * lock from its start (`BEGIN IMMEDIATE`): a directory change plans its intents from state no other change can
 * alter meanwhile, and outbox rows commit in the order of their sequence numbers, which is what keeps each lane's
 * intents in order. PostgreSQL's read committed gives neither, and serializable isolation would abort and retry
 * the planner's wide reads under load. So every transaction takes one transaction-scoped advisory lock first: the
 * same guarantees as SQLite across any number of processes, while reads outside transactions (most of them) and
 * single-statement writes run concurrently.
 */
const DIRECTORY_WRITE_LOCK = 0x7363696d666c6f77n;

class LockedTransactionsDialect extends PostgresDialect {
  createDriver(): Driver {
    const driver = super.createDriver();
    driver.beginTransaction = async (connection: DatabaseConnection) => {
      await connection.executeQuery(CompiledQuery.raw('begin'));
      await connection.executeQuery(
        CompiledQuery.raw(`select pg_advisory_xact_lock(${DIRECTORY_WRITE_LOCK.toString()})`),
      );
    };
    return driver;
  }
}

export interface PostgresStoreOptions {
  /** Seals the apps' credentials at rest (src/security/keys.ts loads it). */
  keyring: Keyring;
  /** Told when apps' credentials are sealed with a key that is not configured, and of lost idle connections. */
  notice?: (message: string) => void;
  /** Connections per process (`SCIMFLOW_DATABASE_POOL_SIZE`). */
  poolSize?: number;
}

/** Connects (a pool of `poolSize`) and migrates. The URL holds a password: it is never logged nor put in errors. */
export async function openPostgresDatabase(
  url: string,
  options: { poolSize?: number; notice?: (message: string) => void } = {},
): Promise<Kysely<Tables>> {
  const pool = new Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    application_name: 'scimflow',
    connectionTimeoutMillis: 10_000,
  });
  // An idle connection the server closed (a restart, a failover) is replaced at the next query; unhandled, the
  // pool's error event would end the process.
  pool.on('error', (error) => options.notice?.(`a PostgreSQL connection was lost: ${error.message}`));
  const db = new Kysely<Tables>({ dialect: new LockedTransactionsDialect({ pool }) });
  try {
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    const { error } = await migrator.migrateToLatest();
    if (error) throw error;
  } catch (error) {
    await db.destroy();
    const reason = error instanceof Error ? error.message : String(error);
    // Where, without the password the URL holds.
    const { hostname, port, pathname } = new URL(url);
    throw new Error(
      `cannot open the directory on PostgreSQL ${hostname}:${port || 5432}${pathname}: ${reason}`,
      { cause: error },
    );
  }
  return db;
}

/**
 * The shared kysely queries over PostgreSQL (`SCIMFLOW_DATABASE_URL=postgres://…`): one directory for any number of
 * API and worker processes on any hosts.
 */
export const PostgresDirectoryStore = {
  async open(url: string, options: PostgresStoreOptions): Promise<DirectoryStore> {
    const { keyring } = options;
    const db = await openPostgresDatabase(url, options);
    const report = await sealAppCredentials(db, keyring, 'plain');
    if (report.unreadable.length > 0) options.notice?.(unreadableNotice(report));
    return {
      ...directoryQueries(db, postgresStoreDialect, keyring),
      transaction: (work) =>
        db.transaction().execute((trx) => work(directoryQueries(trx, postgresStoreDialect, keyring))),
      async close() {
        await db.destroy();
      },
    };
  },
};

/** `npm run rotate-key` on PostgreSQL: seals every app's credentials with the keyring's current key. */
export async function rotatePostgresAppCredentials(
  url: string,
  keyring: Keyring,
): Promise<CredentialsReport> {
  const db = await openPostgresDatabase(url, { poolSize: 1 });
  try {
    return await sealAppCredentials(db, keyring, 'rotate');
  } finally {
    await db.destroy();
  }
}
