import fs from 'node:fs';
import path from 'node:path';
import { setTimeout } from 'node:timers/promises';
import Database from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  Migrator,
  sql,
  SqliteDialect,
  type SqliteDatabase,
} from 'kysely';
import type { Keyring } from '../../security/keyring';
import { type CredentialsReport, sealAppCredentials, unreadableNotice } from '../kysely/appCredentials';
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
    const acquireConnection = driver.acquireConnection.bind(driver);
    driver.acquireConnection = async () => waitingWhileBusy(await acquireConnection());
    driver.beginTransaction = async (connection: DatabaseConnection) => {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    };
    return driver;
  }
}

/** How long a statement waits for another process's write lock before it fails. */
const BUSY_WAIT_MS = 5_000;

/**
 * better-sqlite3 is synchronous: with SQLite's own busy timeout, a statement waiting for another process's write
 * lock sleeps on the event loop, and the API or the worker stops serving anything else meanwhile (`npm run bench`
 * showed both processes mostly idle and slow while they took turns at the file). So SQLite's busy timeout is 0 and
 * a statement refused with SQLITE_BUSY (which ran nothing) is tried again after an asynchronous pause.
 */
function waitingWhileBusy(connection: DatabaseConnection): DatabaseConnection {
  return {
    async executeQuery(query) {
      const deadline = Date.now() + BUSY_WAIT_MS;
      for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
        try {
          return await connection.executeQuery(query);
        } catch (error) {
          if (!isBusy(error) || Date.now() >= deadline) throw error;
          await setTimeout(pause);
        }
      }
    },
    streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
  };
}

const isBusy = (error: unknown) => sqliteErrorCode(error)?.startsWith('SQLITE_BUSY') ?? false;

/**
 * The database and its companions are the owner's only (0600), in a directory created 0700. SQLite gives the -wal
 * and -shm files it creates the database file's mode, so the file is created (or tightened) before SQLite opens
 * it; companions left by an earlier run are tightened too.
 */
function restrictToOwner(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  for (const each of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      fs.chmodSync(each, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** Opens the file (`':memory:'` for a database that lives as long as the connection), creating and migrating it. */
export async function openSqliteDatabase(file: string): Promise<Kysely<Tables>> {
  const inFile = file !== ':memory:' && file !== '';
  if (inFile) restrictToOwner(file);
  const database = new Database(file);
  database.pragma('journal_mode = WAL');
  // A row's old bytes are zeroed when it is updated or deleted, so credentials sealed again (plain ones from before
  // sealing, or with a retired key) leave no copy in the page. FAST: only where that costs no extra I/O.
  database.pragma('secure_delete = FAST');
  if (inFile) restrictToOwner(file);
  database.pragma('foreign_keys = ON');
  // The API and the worker may be separate processes writing the same file: opening waits for them (synchronously),
  // later statements wait without blocking the event loop (`waitingWhileBusy`).
  database.pragma(`busy_timeout = ${BUSY_WAIT_MS}`);
  const db = new Kysely<Tables>({
    dialect: new ImmediateTransactionsDialect({ database: reusingStatements(database) }),
  });
  await migrateAlone(database, db);
  database.pragma('busy_timeout = 0');
  return db;
}

/** How long a process waits for another that is migrating the same file (at start-up, synchronously). */
const MIGRATION_WAIT_MS = 60_000;

/**
 * Runs the pending migrations in one transaction that holds the file's write lock from its start. Kysely takes no
 * lock on SQLite, so the API and a worker starting at once on a new file both ran the first migration, and one
 * failed ("table users already exists"); now the second waits, then finds nothing left to do. All pending
 * migrations commit together, or none does.
 */
async function migrateAlone(database: Database.Database, db: Kysely<Tables>): Promise<void> {
  // Waited for without blocking the event loop, as any statement of the store (`waitingWhileBusy`).
  database.pragma('busy_timeout = 0');
  const deadline = Date.now() + MIGRATION_WAIT_MS;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      database.exec('BEGIN IMMEDIATE');
      break;
    } catch (error) {
      if (!isBusy(error) || Date.now() >= deadline) throw error;
      await setTimeout(pause);
    }
  }
  try {
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    const { error } = await migrator.migrateToLatest();
    if (error) throw new Error(`directory migration failed: ${String(error)}`);
    database.exec('COMMIT');
  } catch (error) {
    if (database.inTransaction) database.exec('ROLLBACK');
    throw error;
  } finally {
    database.pragma(`busy_timeout = ${BUSY_WAIT_MS}`);
  }
}

/** Statements kept, by SQL text: more than an app's worth of distinct queries is not expected. */
const MAX_CACHED_STATEMENTS = 2_000;

/**
 * Kysely prepares every query it runs; SQLite's parse and plan of the same few hundred query texts was a tenth of
 * a busy worker's time (`npm run bench`). Each text is prepared once and its statement reused: better-sqlite3 runs
 * a statement to completion synchronously (this store never streams), so one is never in use twice at once.
 */
function reusingStatements(database: Database.Database): SqliteDatabase {
  const statements = new Map<string, Database.Statement>();
  return {
    close: () => database.close(),
    prepare(text: string) {
      let statement = statements.get(text);
      if (!statement) {
        statement = database.prepare(text);
        if (statements.size >= MAX_CACHED_STATEMENTS) statements.clear();
        statements.set(text, statement);
      }
      return statement;
    },
  };
}

/** The default directory store: one SQLite file (WAL), shared by the API and the worker on one host. */
export type SqliteDirectoryStore = DirectoryStore;

export interface SqliteStoreOptions {
  /** Seals the apps' credentials at rest (src/security/keys.ts loads it). */
  keyring: Keyring;
  /** Told when apps' credentials are sealed with a key that is not configured. */
  notice?: (message: string) => void;
}

/**
 * Old versions of rewritten rows can remain in the WAL file until it is checkpointed and truncated; this does both
 * (it waits, up to the busy timeout, for other connections' readers). False when a reader kept it from finishing.
 */
async function truncateWal(db: Kysely<Tables>): Promise<boolean> {
  const deadline = Date.now() + BUSY_WAIT_MS;
  for (;;) {
    const { rows } = await sql<{ busy: number }>`pragma wal_checkpoint(TRUNCATE)`.execute(db);
    if (rows[0]?.busy === 0) return true;
    if (Date.now() >= deadline) return false;
    await setTimeout(50);
  }
}

/**
 * The shared kysely queries over a SQLite file. Opening seals the credentials of apps written before sealing
 * existed (plain JSON), once: every later open finds none.
 */
export const SqliteDirectoryStore = {
  async open(file: string, options: SqliteStoreOptions): Promise<SqliteDirectoryStore> {
    const { keyring } = options;
    const db = await openSqliteDatabase(file);
    const report = await sealAppCredentials(db, keyring, 'plain');
    if (report.sealed > 0) await truncateWal(db);
    if (report.unreadable.length > 0) options.notice?.(unreadableNotice(report));
    return {
      ...directoryQueries(db, sqliteStoreDialect, keyring),
      transaction: (work) =>
        db.transaction().execute((trx) => work(directoryQueries(trx, sqliteStoreDialect, keyring))),
      async close() {
        await db.destroy();
      },
    };
  },
};

/**
 * `npm run rotate-key`: seals every app's credentials with the keyring's current key (those sealed with a previous
 * key, and any still plain), then truncates the WAL so no copy sealed with the old key stays in the files.
 * Idempotent: a second run seals nothing.
 */
export async function rotateAppCredentials(
  file: string,
  keyring: Keyring,
): Promise<CredentialsReport & { walTruncated: boolean }> {
  const db = await openSqliteDatabase(file);
  try {
    const report = await sealAppCredentials(db, keyring, 'rotate');
    return { ...report, walTruncated: await truncateWal(db) };
  } finally {
    await db.destroy();
  }
}
