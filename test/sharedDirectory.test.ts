import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { appInputSchema } from '../src/directory/model';
import {
  PostgresDirectoryStore,
  rotatePostgresAppCredentials,
} from '../src/directory/postgres/postgresStore';
import { rotateAppCredentials, SqliteDirectoryStore } from '../src/directory/sqlite/sqliteStore';
import type { DirectoryStore } from '../src/directory/store';
import { Targets } from '../src/provisioning/targets';
import { Keyring } from '../src/security/keyring';
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
});
