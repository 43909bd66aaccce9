import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UnreadableCredentialsError } from '../../../src/directory/kysely/appCredentials';
import { type AppAuth, appInputSchema } from '../../../src/directory/model';
import {
  openSqliteDatabase,
  rotateAppCredentials,
  SqliteDirectoryStore,
} from '../../../src/directory/sqlite/sqliteStore';
import { Keyring } from '../../../src/security/keyring';

describe("apps' credentials at rest in the SQLite store", () => {
  let root: string;
  let dbFile: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'scimflow-credentials-'));
    dbFile = path.join(root, 'data', 'scimflow.db');
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const newKeyring = (previous: Buffer[] = []) => new Keyring(Keyring.generateKey(), previous);
  const appInput = (auth: AppAuth) =>
    appInputSchema.parse({ name: 'Acme', baseUrl: 'https://acme.example.com/scim/v2', auth });
  /** Every byte the store keeps on disk: the database and its companions. */
  const filesOnDisk = () => [dbFile, `${dbFile}-wal`, `${dbFile}-shm`].filter((file) => fs.existsSync(file));
  const onDisk = () => Buffer.concat(filesOnDisk().map((file) => fs.readFileSync(file)));
  const storedAuth = async (appId: string) => {
    const db = await openSqliteDatabase(dbFile);
    try {
      return (await db.selectFrom('apps').select('auth').where('id', '=', appId).executeTakeFirstOrThrow())
        .auth;
    } finally {
      await db.destroy();
    }
  };
  /** What a sealed value stored with `key` begins with: the prefix, the type, then format byte and key id. */
  const sealedPrefixOf = (key: Keyring, type: string) =>
    `sealed:v1:${type}:${Buffer.concat([Buffer.from([1]), Buffer.from(key.currentKeyId, 'hex')]).toString('base64')}`;

  test('given a new store, then the database, -wal and -shm are 0600 in a 0700 directory', async () => {
    const store = await SqliteDirectoryStore.open(dbFile, { keyring: newKeyring() });
    await store.createApp(appInput({ type: 'bearer', token: 'tok' }));

    const modes = filesOnDisk().map((file) => [path.basename(file), fs.statSync(file).mode & 0o777]);
    await store.close();

    expect(modes).toEqual([
      ['scimflow.db', 0o600],
      ['scimflow.db-wal', 0o600],
      ['scimflow.db-shm', 0o600],
    ]);
    expect(fs.statSync(path.dirname(dbFile)).mode & 0o777).toBe(0o700);
  });

  test('given a database file from before (0644), when the store opens it, then it is 0600', async () => {
    fs.mkdirSync(path.dirname(dbFile));
    (await openSqliteDatabase(dbFile)).destroy();
    fs.chmodSync(dbFile, 0o644);

    const store = await SqliteDirectoryStore.open(dbFile, { keyring: newKeyring() });
    const modes = filesOnDisk().map((file) => fs.statSync(file).mode & 0o777);
    await store.close();

    expect(modes).toEqual(modes.map(() => 0o600));
  });

  test('given apps whose credentials an earlier version stored in plain JSON, when the store opens, then they are sealed and no file holds them', async () => {
    const db = await openSqliteDatabase(dbFile);
    const now = new Date().toISOString();
    const plain = (id: string, auth: AppAuth) => ({
      id,
      settings: JSON.stringify({ name: id, baseUrl: 'https://acme.example.com/scim/v2' }),
      auth: JSON.stringify(auth),
      created_at: now,
      updated_at: now,
    });
    await db
      .insertInto('apps')
      .values([
        plain('bearer-app', { type: 'bearer', token: 'plain-bearer-token-1234' }),
        plain('basic-app', { type: 'basic', username: 'svc-user', password: 'plain-password-5678' }),
      ])
      .execute();
    await db.destroy();
    expect(onDisk().includes('plain-bearer-token-1234')).toBe(true);
    const keyring = newKeyring();

    const store = await SqliteDirectoryStore.open(dbFile, { keyring });
    const bytes = onDisk();
    const apps = await store.listApps();
    await store.close();

    expect(bytes.includes('plain-bearer-token-1234')).toBe(false);
    expect(bytes.includes('plain-password-5678')).toBe(false);
    expect(apps.map((app) => app.auth)).toEqual([
      { type: 'basic', username: 'svc-user', password: 'plain-password-5678' },
      { type: 'bearer', token: 'plain-bearer-token-1234' },
    ]);
    // The prefix holds base64 (`+`, `/`): compared as text, not as a pattern.
    expect((await storedAuth('bearer-app'))?.startsWith(sealedPrefixOf(keyring, 'bearer'))).toBe(true);
  });

  test('given credentials sealed with a key that is not configured, then the app still reads and takes new credentials', async () => {
    const lost = await SqliteDirectoryStore.open(dbFile, { keyring: newKeyring() });
    const app = await lost.createApp(appInput({ type: 'bearer', token: 'sealed-with-a-lost-key' }));
    await lost.close();
    const notices: string[] = [];

    const store = await SqliteDirectoryStore.open(dbFile, {
      keyring: newKeyring(),
      notice: (m) => notices.push(m),
    });
    try {
      const read = await store.getApp(app.id);
      expect(read?.auth.type).toBe('bearer');
      expect(() => (read?.auth as { token: string }).token).toThrow(UnreadableCredentialsError);
      expect(() => (read?.auth as { token: string }).token).toThrow(`PATCH /api/apps/${app.id}`);
      expect(notices).toEqual([expect.stringContaining(`1 app(s) have credentials sealed with a key`)]);
      const before = await storedAuth(app.id);

      await store.updateApp(app.id, { name: 'Renamed' });
      expect(await storedAuth(app.id)).toBe(before);

      await store.updateApp(app.id, { auth: { type: 'bearer', token: 'entered-again' } });
      expect((await store.getApp(app.id))?.auth).toEqual({ type: 'bearer', token: 'entered-again' });
    } finally {
      await store.close();
    }
  });

  test("given one app's sealed credentials copied into another app's row, then they do not open there", async () => {
    const keyring = newKeyring();
    const store = await SqliteDirectoryStore.open(dbFile, { keyring });
    const acme = await store.createApp(appInput({ type: 'bearer', token: 'acme-token' }));
    const other = await store.createApp(appInput({ type: 'bearer', token: 'other-token' }));
    await store.close();
    const db = await openSqliteDatabase(dbFile);
    await db
      .updateTable('apps')
      .set({ auth: await storedAuth(acme.id) })
      .where('id', '=', other.id)
      .execute();
    await db.destroy();

    const reopened = await SqliteDirectoryStore.open(dbFile, { keyring });
    const read = await reopened.getApp(other.id);
    await reopened.close();

    expect(() => (read?.auth as { token: string }).token).toThrow(UnreadableCredentialsError);
  });

  test('given a new current key and the old one as previous, when the credentials are rotated, then every app is sealed with the new key, once', async () => {
    const [oldKey, newKey] = [Keyring.generateKey(), Keyring.generateKey()];
    const old = new Keyring(oldKey);
    const store = await SqliteDirectoryStore.open(dbFile, { keyring: old });
    const bearer = await store.createApp(appInput({ type: 'bearer', token: 'rotate-me' }));
    const basic = await store.createApp(
      appInput({ type: 'basic', username: 'u', password: 'rotate-me-too' }),
    );
    await store.close();
    expect(onDisk().includes(sealedPrefixOf(old, 'bearer'))).toBe(true);

    const first = await rotateAppCredentials(dbFile, new Keyring(newKey, [oldKey]));
    const second = await rotateAppCredentials(dbFile, new Keyring(newKey, [oldKey]));

    expect(first).toEqual({ apps: 2, sealed: 2, unreadable: [], walTruncated: true });
    expect(second).toEqual({ apps: 2, sealed: 0, unreadable: [], walTruncated: true });
    expect(onDisk().includes(sealedPrefixOf(old, 'bearer'))).toBe(false);
    expect(onDisk().includes(sealedPrefixOf(old, 'basic'))).toBe(false);
    const reopened = await SqliteDirectoryStore.open(dbFile, { keyring: new Keyring(newKey) });
    const apps = await reopened.listApps();
    await reopened.close();
    expect(Object.fromEntries(apps.map((app) => [app.id, app.auth]))).toEqual({
      [bearer.id]: { type: 'bearer', token: 'rotate-me' },
      [basic.id]: { type: 'basic', username: 'u', password: 'rotate-me-too' },
    });
  });

  test('given credentials sealed with a key the rotation does not have, then it reports the app and leaves it', async () => {
    const store = await SqliteDirectoryStore.open(dbFile, { keyring: newKeyring() });
    const app = await store.createApp(appInput({ type: 'bearer', token: 'unknown-key' }));
    await store.close();
    const before = await storedAuth(app.id);

    const report = await rotateAppCredentials(dbFile, newKeyring([Keyring.generateKey()]));

    expect(report).toMatchObject({ apps: 1, sealed: 0, unreadable: [app.id] });
    expect(await storedAuth(app.id)).toBe(before);
  });
});
