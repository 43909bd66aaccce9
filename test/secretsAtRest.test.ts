import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { rotateAppCredentials } from '../src/directory/sqlite/sqliteStore';
import { Keyring, keyIdOf } from '../src/security/keyring';
import { Harness } from './support/harness';

/** A SCIM target that only tells which Authorization header it was sent (and refuses it). */
async function startHeaderRecorder() {
  const headers: string[] = [];
  const server = http.createServer((request, response) => {
    headers.push(request.headers.authorization ?? '');
    response.writeHead(401, { 'content-type': 'application/scim+json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/scim/v2`,
    headers,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The directory on a file, as scimflow keeps it: its bytes on disk (database, -wal, -shm) hold no app credential,
 * only values sealed with the current key; the files are the owner's only; rotating the key leaves nothing sealed
 * with the old one, and scimflow goes on with the new key alone.
 */
describe('app credentials at rest', () => {
  const oldKey = Keyring.generateKey();
  const newKey = Keyring.generateKey();
  const basic = {
    type: 'basic',
    username: 'svc-scimflow',
    password: `pw-${randomBytes(12).toString('hex')}`,
  };
  let root: string;
  let dbFile: string;
  let first: Harness;
  let firstClosed = false;
  let second: Harness | undefined;
  let recorder: Awaited<ReturnType<typeof startHeaderRecorder>>;
  let bearerApp: { id: string };
  let basicApp: { id: string };

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(process.env.SCIMFLOW_TEST_TMP ?? os.tmpdir(), 'secrets-at-rest-'));
    dbFile = path.join(root, 'data', 'scimflow.db');
    recorder = await startHeaderRecorder();
    // The outbox loop of the first scimflow stays quiet once the second one runs on the same file.
    first = await Harness.start({ dbFile, keyring: new Keyring(oldKey), outboxIntervalMs: 3_600_000 });
  });
  afterAll(async () => {
    await second?.close();
    if (!firstClosed) await first?.close();
    await recorder?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const files = () => [dbFile, `${dbFile}-wal`, `${dbFile}-shm`].filter((file) => fs.existsSync(file));
  const onDisk = () => Buffer.concat(files().map((file) => fs.readFileSync(file)));
  const secrets = () => [
    first.scim.token,
    basic.password,
    Buffer.from(`${basic.username}:${basic.password}`).toString('base64'),
  ];
  /** How every value sealed with `key` begins in the store: prefix, type, format byte and key id in base64. */
  const sealedWith = (key: Buffer) =>
    ['bearer', 'basic'].map(
      (type) => `sealed:v1:${type}:${Buffer.concat([Buffer.from([1]), keyIdOf(key)]).toString('base64')}`,
    );
  const basicHeader = `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString('base64')}`;

  /** A user in a new group assigned to the app (new lanes, so only `h`'s worker runs them). */
  async function provisionNewUser(h: Harness, appId: string, name: string) {
    const user = await h.createUser(`${name}@example.com`);
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: `Secrets ${name}`,
      memberIds: [user.id],
    });
    const { settled } = await h.change('PUT', `/api/apps/${appId}/groups/${group.id}`);
    expect(settled.map((run) => run.status)).toEqual(settled.map(() => 'completed'));
  }

  it('given apps created with a bearer token and a basic password, then no database file holds either', async () => {
    bearerApp = await first.createApp();
    basicApp = await first.ok<{ id: string }>('POST', '/api/apps', {
      name: 'Basic target',
      baseUrl: recorder.url,
      auth: basic,
    });

    await provisionNewUser(first, bearerApp.id, 'alice-secrets');
    await first.call('POST', `/api/apps/${basicApp.id}/test-connection`);

    // The worker and the API read them: provisioning went through, and the basic app was sent its credentials.
    expect(first.remoteUser('alice-secrets@example.com')).toBeDefined();
    expect(recorder.headers).toContain(basicHeader);
    expect(files().map((file) => path.basename(file))).toEqual([
      'scimflow.db',
      'scimflow.db-wal',
      'scimflow.db-shm',
    ]);
    const bytes = onDisk();
    for (const secret of secrets()) expect(bytes.includes(secret)).toBe(false);
    for (const prefix of sealedWith(oldKey)) expect(bytes.includes(prefix)).toBe(true);
  });

  it('given the directory on a file, then the database, -wal and -shm are 0600 and the directory 0700', () => {
    expect(files().map((file) => [path.basename(file), fs.statSync(file).mode & 0o777])).toEqual([
      ['scimflow.db', 0o600],
      ['scimflow.db-wal', 0o600],
      ['scimflow.db-shm', 0o600],
    ]);
    expect(fs.statSync(path.dirname(dbFile)).mode & 0o777).toBe(0o700);
  });

  it('given a new key with the old one as previous, when the credentials are rotated, then nothing sealed with the old key is left and scimflow works with the new key alone', async () => {
    const report = await rotateAppCredentials(dbFile, new Keyring(newKey, [oldKey]));

    expect(report).toEqual({ apps: 2, sealed: 2, unreadable: [], walTruncated: true });
    let bytes = onDisk();
    for (const prefix of sealedWith(oldKey)) expect(bytes.includes(prefix)).toBe(false);
    for (const prefix of sealedWith(newKey)) expect(bytes.includes(prefix)).toBe(true);

    // Restarted with the new key only (the target keeps its token; the app is pointed at its new address).
    await first.close();
    firstClosed = true;
    second = await Harness.start({ dbFile, keyring: new Keyring(newKey), scim: { token: first.scim.token } });
    const moved = await second.ok<{ operations: unknown[] }>('PATCH', `/api/apps/${bearerApp.id}`, {
      baseUrl: second.proxy.url,
    });
    expect(moved.operations).toEqual([]);
    await provisionNewUser(second, bearerApp.id, 'bob-secrets');
    await second.call('POST', `/api/apps/${basicApp.id}/test-connection`);

    expect(second.remoteUser('bob-secrets@example.com')).toBeDefined();
    expect(recorder.headers.at(-1)).toBe(basicHeader);
    bytes = onDisk();
    for (const prefix of sealedWith(oldKey)) expect(bytes.includes(prefix)).toBe(false);
    for (const secret of secrets()) expect(bytes.includes(secret)).toBe(false);
  });
});
