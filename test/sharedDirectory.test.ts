import { randomBytes, randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { appInputSchema } from '../src/directory/model';
import {
  PostgresDirectoryStore,
  rotatePostgresAppCredentials,
} from '../src/directory/postgres/postgresStore';
import { rotateAppCredentials, SqliteDirectoryStore } from '../src/directory/sqlite/sqliteStore';
import type { DirectoryStore } from '../src/directory/store';
import { Targets } from '../src/provisioning/targets';
import { Keyring, keyIdOf } from '../src/security/keyring';
import { freshDatabaseUrl } from './support/postgres';
import { type ScimTestServer, startScimServer } from './support/scimServer';
import { testStoreKind } from './support/testStore';

/** `count` processes opening one new directory at once. */
async function processesStartingAtOnce(keyring: Keyring, count: number): Promise<DirectoryStore[]> {
  if (testStoreKind() === 'postgres') {
    const url = await freshDatabaseUrl();
    return Promise.all(
      Array.from({ length: count }, () => PostgresDirectoryStore.open(url, { keyring, poolSize: 1 })),
    );
  }
  const file = path.join(process.env.SCIMFLOW_TEST_TMP ?? os.tmpdir(), `at-once-${randomUUID()}.db`);
  cleanups.push(() => fs.rm(file, { force: true }));
  return Promise.all(Array.from({ length: count }, () => SqliteDirectoryStore.open(file, { keyring })));
}

/**
 * Two processes on one directory (an API and a worker, each with its own connection and caches): what one changes,
 * the other uses at its next call. SQLite here shares a file; PostgreSQL (the `postgres` jest project) a database.
 */
async function twoProcessesOnOneDirectory(keyring: Keyring): Promise<[DirectoryStore, DirectoryStore]> {
  if (testStoreKind() === 'postgres') {
    const url = await freshDatabaseUrl();
    const first = await PostgresDirectoryStore.open(url, { keyring, poolSize: 2 });
    return [first, await PostgresDirectoryStore.open(url, { keyring, poolSize: 2 })];
  }
  const file = path.join(process.env.SCIMFLOW_TEST_TMP ?? os.tmpdir(), `shared-${randomUUID()}.db`);
  cleanups.push(() => fs.rm(file, { force: true }));
  const first = await SqliteDirectoryStore.open(file, { keyring });
  return [first, await SqliteDirectoryStore.open(file, { keyring })];
}

const cleanups: (() => Promise<unknown>)[] = [];

/** A new, empty directory of the run's kind: a PostgreSQL URL, or a SQLite file. */
async function newDirectoryLocation(): Promise<string> {
  if (testStoreKind() === 'postgres') return freshDatabaseUrl();
  const file = path.join(process.env.SCIMFLOW_TEST_TMP ?? os.tmpdir(), `rotate-${randomUUID()}.db`);
  cleanups.push(() => fs.rm(file, { force: true }));
  return file;
}

const openAt = (location: string, keyring: Keyring) =>
  testStoreKind() === 'postgres'
    ? PostgresDirectoryStore.open(location, { keyring, poolSize: 2 })
    : SqliteDirectoryStore.open(location, { keyring });

/** What `npm run rotate-key` does on either store (src/rotateKey.ts), without SQLite's WAL detail. */
async function rotateAt(location: string, keyring: Keyring) {
  if (testStoreKind() === 'postgres') return rotatePostgresAppCredentials(location, keyring);
  const { walTruncated: _, ...report } = await rotateAppCredentials(location, keyring);
  return report;
}
/**
 * Every row of every table of a directory, read with SQL as anyone with access to the database reads it: the `apps`
 * rows (id and auth) apart, and all rows of all tables as text.
 */
async function rawRows(
  location: string,
): Promise<{ apps: { id: string; auth: string }[]; everything: string }> {
  if (testStoreKind() === 'postgres') {
    const client = new Client({ connectionString: location });
    await client.connect();
    try {
      const apps = (await client.query<{ id: string; auth: string }>('SELECT id, auth FROM apps')).rows;
      const tables = await client.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
      );
      const rows: string[] = [];
      for (const { table_name: table } of tables.rows) {
        const all = await client.query<{ row: string }>(`SELECT t::text AS row FROM "${table}" t`);
        rows.push(...all.rows.map(({ row }) => row));
      }
      return { apps, everything: rows.join('\n') };
    } finally {
      await client.end();
    }
  }
  const db = new Database(location, { readonly: true, fileMustExist: true });
  try {
    const apps = db.prepare('SELECT id, auth FROM apps').all() as { id: string; auth: string }[];
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
      name: string;
    }[];
    const rows = tables.flatMap(({ name }) => db.prepare(`SELECT * FROM "${name}"`).all());
    return { apps, everything: JSON.stringify(rows) };
  } finally {
    db.close();
  }
}

let target: ScimTestServer;
let api: DirectoryStore;
let worker: DirectoryStore;

beforeAll(async () => {
  target = await startScimServer();
  [api, worker] = await twoProcessesOnOneDirectory(new Keyring(Keyring.generateKey()));
});

afterAll(async () => {
  await api.close();
  await worker.close();
  await target.close();
  for (const cleanup of cleanups) await cleanup();
});

describe(`one directory, two processes (${testStoreKind()})`, () => {
  test("given a worker that called an app with its old token, when an API process changes the app's token, then the worker's next call uses the new one", async () => {
    const app = await api.createApp(
      appInputSchema.parse({
        name: 'Rotated',
        baseUrl: target.url,
        auth: { type: 'bearer', token: 'revoked-token' },
      }),
    );
    const targets = new Targets(worker, {
      settings: { allowLoopback: true, allowPrivate: false, maxResponseBytes: 1024 * 1024 },
    });
    const findAlice = async () => targets.clientFor(await targets.app(app.id)).findUser('userName', 'alice');
    await expect(findAlice()).rejects.toThrow(/401/);

    await api.updateApp(app.id, { auth: { type: 'bearer', token: target.token } });

    await expect(findAlice()).resolves.toBeNull();
  });

  test('given four processes starting at once on a new directory, then each of them opens it, migrated once, and what one writes the others read', async () => {
    const stores = await processesStartingAtOnce(new Keyring(Keyring.generateKey()), 4);
    try {
      const [first, ...others] = stores as [DirectoryStore, ...DirectoryStore[]];
      const user = await first.createUser({ userName: 'started-at-once@example.com', active: true });
      for (const other of others) expect((await other.getUser(user.id))?.userName).toBe(user.userName);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  test('given a change committed by one process, when the other reads right after, then it sees it (no cache in between)', async () => {
    const user = await api.createUser({ userName: `shared-${randomUUID()}@example.com`, active: true });

    await api.updateUser(user.id, { title: 'Engineer' });

    expect((await worker.getUser(user.id))?.title).toBe('Engineer');
  });
  test('given apps sealed with the old key, when the credentials are rotated on this store (npm run rotate-key), then every app is sealed with the new key, once, and the API reads them', async () => {
    const [oldKey, newKey] = [Keyring.generateKey(), Keyring.generateKey()];
    const location = await newDirectoryLocation();
    const before = await openAt(location, new Keyring(oldKey));
    const app = await before.createApp(
      appInputSchema.parse({
        name: 'Rotated key',
        baseUrl: 'https://rotated.example.com/scim/v2',
        auth: { type: 'bearer', token: 'rotate-me' },
      }),
    );
    await before.close();

    const rotating = new Keyring(newKey, [oldKey]);
    const first = await rotateAt(location, rotating);
    const second = await rotateAt(location, rotating);

    expect([first, second]).toEqual([
      { apps: 1, sealed: 1, unreadable: [] },
      { apps: 1, sealed: 0, unreadable: [] },
    ]);
    const after = await openAt(location, new Keyring(newKey));
    expect((await after.getApp(app.id))?.auth).toEqual({ type: 'bearer', token: 'rotate-me' });
    await after.close();
  });

  test('given apps with a bearer token and a basic password, when the apps table is read with SQL, then each credential is sealed with the current key and no table holds a secret', async () => {
    const key = Keyring.generateKey();
    const location = await newDirectoryLocation();
    const store = await openAt(location, new Keyring(key));
    try {
      const token = `token-${randomBytes(16).toString('hex')}`;
      const basic = {
        type: 'basic',
        username: 'svc-raw-read',
        password: `pw-${randomBytes(16).toString('hex')}`,
      };
      const created = [
        await store.createApp(
          appInputSchema.parse({
            name: 'Raw bearer',
            baseUrl: 'https://bearer.example.com/scim/v2',
            auth: { type: 'bearer', token },
          }),
        ),
        await store.createApp(
          appInputSchema.parse({
            name: 'Raw basic',
            baseUrl: 'https://basic.example.com/scim/v2',
            auth: basic,
          }),
        ),
      ];
      // A new token patched in is sealed too.
      const newToken = `token-${randomBytes(16).toString('hex')}`;
      await store.updateApp(created[0].id, { auth: { type: 'bearer', token: newToken } });

      const { apps, everything } = await rawRows(location);

      // Each stored value is `sealed:v1:<type>:` and the sealed bytes begin with the format byte and the key's id.
      const sealedBy = (type: string) =>
        `sealed:v1:${type}:${Buffer.concat([Buffer.from([1]), keyIdOf(key)]).toString('base64')}`;
      const stored = new Map(apps.map(({ id, auth }) => [id, auth]));
      expect(apps).toHaveLength(2);
      expect(stored.get(created[0].id)?.slice(0, sealedBy('bearer').length)).toBe(sealedBy('bearer'));
      expect(stored.get(created[1].id)?.slice(0, sealedBy('basic').length)).toBe(sealedBy('basic'));
      // and no row of any table holds a secret (the scan reads them: the apps' names are there, in clear)
      expect(everything).toContain('Raw basic');
      for (const secret of [token, newToken, basic.password, basic.username]) {
        expect(everything).not.toContain(secret);
      }
      // while the store still opens them: the rows read are the apps' credentials
      expect((await store.getApp(created[0].id))?.auth).toEqual({ type: 'bearer', token: newToken });
      expect((await store.getApp(created[1].id))?.auth).toEqual(basic);
    } finally {
      await store.close();
    }
  });
});
