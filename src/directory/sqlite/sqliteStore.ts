import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CompiledQuery, type DatabaseConnection, type Driver, Kysely, Migrator, SqliteDialect } from 'kysely';
import type { StoreDialect } from '../kysely/dialect';
import { directoryQueries } from '../kysely/directoryQueries';
import type { Tables } from '../kysely/tables';
import type { DirectoryStore } from '../store';
import { migrations } from './migrations';

// Checked by code, not `instanceof`: the native module's errors may come from another realm (e.g. under jest).
const sqliteErrorCode = (error: unknown) =>
  typeof error === 'object' && error !== null ? (error as { code?: string }).code : undefined;

/** SQLite names the kind of constraint that refused a row. */
export const sqliteStoreDialect: StoreDialect = {
  isUniqueViolation: (error) => sqliteErrorCode(error) === 'SQLITE_CONSTRAINT_UNIQUE',
  isPrimaryKeyViolation: (error) => sqliteErrorCode(error) === 'SQLITE_CONSTRAINT_PRIMARYKEY',
};

/**
 * SQLite's default `BEGIN` (deferred) takes the write lock only at the first write, and a transaction that read
 * before another process wrote then fails with SQLITE_BUSY instead of waiting. A directory change reads (the planner)
 * then writes, so its transactions take the write lock at `BEGIN IMMEDIATE` and wait (busy_timeout) for it.
 */
class ImmediateTransactionsDialect extends SqliteDialect {
  createDriver(): Driver {
    const driver = super.createDriver();
    driver.beginTransaction = async (connection: DatabaseConnection) => {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    };
    return driver;
  }
}

/** Opens the file (`':memory:'` for a database that lives as long as the connection), creating and migrating it. */
export async function openSqliteDatabase(file: string): Promise<Kysely<Tables>> {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const database = new Database(file);
  database.pragma('journal_mode = WAL');
  database.pragma('foreign_keys = ON');
  // The API and the worker may be separate processes writing the same file.
  database.pragma('busy_timeout = 5000');
  const db = new Kysely<Tables>({ dialect: new ImmediateTransactionsDialect({ database }) });
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error } = await migrator.migrateToLatest();
  if (error) throw new Error(`directory migration failed: ${String(error)}`);
  return db;
}

/** The default directory store: one SQLite file (WAL), shared by the API and the worker on one host. */
export type SqliteDirectoryStore = DirectoryStore;

/** The shared kysely queries over a SQLite file; `SqliteDirectoryStore.open(file)` as callers have always opened it. */
export const SqliteDirectoryStore = {
  async open(file: string): Promise<SqliteDirectoryStore> {
    const db = await openSqliteDatabase(file);
    return {
      ...directoryQueries(db, sqliteStoreDialect),
      transaction: (work) =>
        db.transaction().execute((trx) => work(directoryQueries(trx, sqliteStoreDialect))),
      async close() {
        await db.destroy();
      },
    };
  },
};
