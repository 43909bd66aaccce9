import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, sql, SqliteDialect } from 'kysely';
import { DuplicateError } from '../../../src/directory/errors';
import { migrations } from '../../../src/directory/sqlite/migrations';
import { SqliteDirectoryStore } from '../../../src/directory/sqlite/sqliteStore';
import { Keyring } from '../../../src/security/keyring';

/** A directory file as the release before 0005 left it: keys were `trim().toLowerCase()`. */
async function directoryBeforeNormalizedKeys(file: string, rows: (db: Kysely<unknown>) => Promise<void>) {
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Database(file) }) });
  const before = Object.fromEntries(Object.entries(migrations).filter(([name]) => name < '0005'));
  const { error } = await new Migrator({
    db,
    provider: { getMigrations: async () => before },
  }).migrateToLatest();
  if (error) throw error;
  await rows(db);
  await db.destroy();
}

const oldKey = (name: string) => name.trim().toLowerCase();

describe('migration 0005: name keys normalized', () => {
  let dir: string;
  let file: string;
  let store: SqliteDirectoryStore | undefined;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scimflow-names-'));
    file = path.join(dir, 'directory.db');
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const user = (id: string, userName: string, createdAt: string) => sql`
    INSERT INTO users (id, user_name, user_name_key, attributes, created_at, updated_at)
    VALUES (${id}, ${userName}, ${oldKey(userName)}, ${JSON.stringify({ userName, active: true })},
            ${createdAt}, ${createdAt})`;
  const group = (id: string, displayName: string, createdAt: string) => sql`
    INSERT INTO groups (id, display_name, display_name_key, created_at, updated_at)
    VALUES (${id}, ${displayName}, ${oldKey(displayName)}, ${createdAt}, ${createdAt})`;
  const keysOf = (table: string, key: string) => {
    const raw = new Database(file, { readonly: true });
    try {
      const rows = raw.prepare(`SELECT id, ${key} AS key FROM ${table}`).all() as {
        id: string;
        key: string;
      }[];
      return Object.fromEntries(rows.map((row) => [row.id, row.key]));
    } finally {
      raw.close();
    }
  };

  test('given users and groups stored under lower-cased keys, when the store opens, then their keys are normalized and the old spellings collide', async () => {
    await directoryBeforeNormalizedKeys(file, async (db) => {
      await user('u-rene', 'Rene\u0301', '2026-01-01T00:00:00.000Z').execute(db);
      await user('u-strasse', 'Stra\u00dfe', '2026-01-02T00:00:00.000Z').execute(db);
      await group('g-eng', '\uff25ng', '2026-01-01T00:00:00.000Z').execute(db);
    });

    store = await SqliteDirectoryStore.open(file, { keyring: new Keyring(Keyring.generateKey()) });

    expect(keysOf('users', 'user_name_key')).toEqual({ 'u-rene': 'ren\u00e9', 'u-strasse': 'strasse' });
    expect(keysOf('groups', 'display_name_key')).toEqual({ 'g-eng': 'eng' });
    expect((await store.findUserByUserName('REN\u00c9'))?.id).toBe('u-rene');
    await expect(store.createUser({ userName: 'STRASSE', active: true })).rejects.toBeInstanceOf(
      DuplicateError,
    );
    await expect(store.createGroup({ displayName: 'eng' })).rejects.toBeInstanceOf(DuplicateError);
  });

  test('given two users whose names differed only by width, when the store opens, then both are kept: the older keeps the name, the newer works until renamed', async () => {
    await directoryBeforeNormalizedKeys(file, async (db) => {
      await user('u-new', '\uff21lice', '2026-02-01T00:00:00.000Z').execute(db);
      await user('u-old', 'alice', '2026-01-01T00:00:00.000Z').execute(db);
    });
    const warning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);

    try {
      store = await SqliteDirectoryStore.open(file, { keyring: new Keyring(Keyring.generateKey()) });
      expect(warning).toHaveBeenCalledWith(expect.stringContaining('user u-new (same name as u-old)'), {
        code: 'SCIMFLOW_DUPLICATE_NAMES',
      });
      // No names in the warning: it goes to the log.
      expect(String(warning.mock.calls[0][0])).not.toContain('alice');
    } finally {
      warning.mockRestore();
    }

    expect(keysOf('users', 'user_name_key')).toEqual({ 'u-old': 'alice', 'u-new': 'alice\u001fu-new' });
    expect((await store.findUserByUserName('\uff21LICE'))?.id).toBe('u-old');
    // The kept duplicate can still be edited and deactivated…
    expect((await store.updateUser('u-new', { active: false }))?.after.active).toBe(false);
    // …not renamed onto a taken name, and it takes an ordinary key once renamed.
    await expect(store.updateUser('u-new', { userName: 'ALICE' })).rejects.toBeInstanceOf(DuplicateError);
    await store.updateUser('u-new', { userName: 'alice.two' });
    expect(keysOf('users', 'user_name_key')['u-new']).toBe('alice.two');
  });
});
