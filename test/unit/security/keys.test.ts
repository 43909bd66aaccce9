import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config';
import { Keyring, keyIdOf } from '../../../src/security/keyring';
import { loadKeyring } from '../../../src/security/keys';

describe('loadKeyring: where the keys come from', () => {
  let root: string;
  let dataDir: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'scimflow-keys-'));
    dataDir = path.join(root, 'data');
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const configWith = (env: Record<string, string> = {}) => loadConfig({ SCIMFLOW_DATA_DIR: dataDir, ...env });
  const newKey = () => Keyring.generateKey();
  const idOf = (key: Buffer) => keyIdOf(key).toString('hex');
  const mode = (file: string) => fs.statSync(file).mode & 0o777;
  const writeKeyFile = (file: string, keys: Buffer[], fileMode = 0o600) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, keys.map((key) => `${key.toString('base64')}\n`).join(''), { mode: fileMode });
    fs.chmodSync(file, fileMode);
  };
  const failureOf = (load: () => unknown): Error => {
    try {
      load();
    } catch (error) {
      return error as Error;
    }
    throw new Error('expected loadKeyring to fail');
  };

  test('given SCIMFLOW_ENCRYPTION_KEY, then it is the current key and no file is written', () => {
    const key = newKey();

    const keyring = loadKeyring(configWith({ SCIMFLOW_ENCRYPTION_KEY: key.toString('base64') }), {
      createIfMissing: true,
    });

    expect(keyring.currentKeyId).toBe(idOf(key));
    expect(fs.existsSync(path.join(dataDir, 'encryption-key'))).toBe(false);
  });

  test('given a key file named by SCIMFLOW_ENCRYPTION_KEY_FILE, then its key is the current key', () => {
    const key = newKey();
    const file = path.join(root, 'secrets', 'scimflow-key');
    writeKeyFile(file, [key]);

    const keyring = loadKeyring(configWith({ SCIMFLOW_ENCRYPTION_KEY_FILE: file }), {
      createIfMissing: false,
    });

    expect(keyring.currentKeyId).toBe(idOf(key));
  });

  test('given no key at all and createIfMissing (npm start), then a key file is written once, 0600, in a 0700 data directory', () => {
    const notices: string[] = [];

    const first = loadKeyring(configWith(), { createIfMissing: true, notice: (m) => notices.push(m) });
    const second = loadKeyring(configWith(), { createIfMissing: true });

    const file = path.join(dataDir, 'encryption-key');
    expect(mode(file)).toBe(0o600);
    expect(mode(dataDir)).toBe(0o700);
    expect(second.currentKeyId).toBe(first.currentKeyId);
    expect(Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64')).toHaveLength(32);
    expect(notices).toEqual([expect.stringContaining(`created a new encryption key in ${file}`)]);
    expect(notices.join()).not.toContain(fs.readFileSync(file, 'utf8').trim());
  });

  test('given no key at all and no createIfMissing (api, worker), then the error names the file and how to make a key', () => {
    const error = failureOf(() => loadKeyring(configWith(), { createIfMissing: false }));

    expect(error.message).toContain('SCIMFLOW_ENCRYPTION_KEY is unset');
    expect(error.message).toContain(path.join(dataDir, 'encryption-key'));
    expect(error.message).toContain('openssl rand -base64 32');
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  test('given SCIMFLOW_ENCRYPTION_KEY_FILE naming a missing file, then it is not created, even by npm start', () => {
    const file = path.join(root, 'typo', 'scimflow-key');

    const error = failureOf(() =>
      loadKeyring(configWith({ SCIMFLOW_ENCRYPTION_KEY_FILE: file }), { createIfMissing: true }),
    );

    expect(error.message).toContain(`the key file ${file} (SCIMFLOW_ENCRYPTION_KEY_FILE) does not exist`);
    expect(fs.existsSync(file)).toBe(false);
  });

  test.each([
    ['not base64', 'not a key, obviously!', 'SCIMFLOW_ENCRYPTION_KEY is not base64'],
    [
      '16 bytes',
      Buffer.alloc(16, 7).toString('base64'),
      'SCIMFLOW_ENCRYPTION_KEY decodes to 16 bytes; a key is 32',
    ],
    ['empty', '', 'SCIMFLOW_ENCRYPTION_KEY is empty'],
  ])('given SCIMFLOW_ENCRYPTION_KEY %s, then the error says so without the value', (_, value, message) => {
    const error = failureOf(() =>
      loadKeyring(configWith({ SCIMFLOW_ENCRYPTION_KEY: value }), { createIfMissing: true }),
    );

    expect(error.message).toContain(message);
    if (value !== '') expect(error.message).not.toContain(value);
  });

  test('given a bad previous key, then the error names the variable and which key', () => {
    const good = newKey().toString('base64');
    const bad = Buffer.alloc(31).toString('base64');

    const error = failureOf(() =>
      loadKeyring(
        configWith({
          SCIMFLOW_ENCRYPTION_KEY: newKey().toString('base64'),
          SCIMFLOW_ENCRYPTION_PREVIOUS_KEYS: `${good},${bad}`,
        }),
        { createIfMissing: false },
      ),
    );

    expect(error.message).toContain('SCIMFLOW_ENCRYPTION_PREVIOUS_KEYS (key 2) decodes to 31 bytes');
    expect(error.message).not.toContain(bad);
    expect(error.message).not.toContain(good);
  });

  test('given both SCIMFLOW_ENCRYPTION_KEY and SCIMFLOW_ENCRYPTION_KEY_FILE, then it refuses to choose', () => {
    const file = path.join(root, 'scimflow-key');
    writeKeyFile(file, [newKey()]);

    const error = failureOf(() =>
      loadKeyring(
        configWith({
          SCIMFLOW_ENCRYPTION_KEY: newKey().toString('base64'),
          SCIMFLOW_ENCRYPTION_KEY_FILE: file,
        }),
        { createIfMissing: false },
      ),
    );

    expect(error.message).toContain('both SCIMFLOW_ENCRYPTION_KEY and SCIMFLOW_ENCRYPTION_KEY_FILE are set');
  });

  test('given a key file others may read, then it is used and the notice says chmod 600', () => {
    const file = path.join(dataDir, 'encryption-key');
    writeKeyFile(file, [newKey()], 0o644);
    const notices: string[] = [];

    loadKeyring(configWith(), { createIfMissing: false, notice: (m) => notices.push(m) });

    expect(notices).toEqual([expect.stringContaining(`chmod 600 ${file}`)]);
  });

  test('given a key file with two keys, then the error says previous keys go elsewhere', () => {
    writeKeyFile(path.join(dataDir, 'encryption-key'), [newKey(), newKey()]);

    const error = failureOf(() => loadKeyring(configWith(), { createIfMissing: false }));

    expect(error.message).toContain('holds 2 keys; it holds the current key only');
  });

  test('given previous keys in the variable and in the previous-key file, then values sealed with any of them open', () => {
    const [current, fromVariable, fromFile] = [newKey(), newKey(), newKey()];
    writeKeyFile(path.join(dataDir, 'encryption-key'), [current]);
    writeKeyFile(path.join(dataDir, 'encryption-key.previous'), [fromFile, current]);
    const sealedWith = (key: Buffer) => new Keyring(key).seal(Buffer.from('secret'), 'test');

    const keyring = loadKeyring(
      configWith({ SCIMFLOW_ENCRYPTION_PREVIOUS_KEYS: ` ${fromVariable.toString('base64')} ,` }),
      { createIfMissing: false },
    );

    expect(keyring.currentKeyId).toBe(idOf(current));
    for (const key of [current, fromVariable, fromFile]) {
      expect(keyring.open(sealedWith(key), 'test').toString()).toBe('secret');
    }
    expect(keyring.sealedWithOlderKey(sealedWith(fromFile))).toBe(true);
    expect(keyring.sealedWithOlderKey(sealedWith(current))).toBe(false);
  });

  test('given SCIMFLOW_ENCRYPTION_PREVIOUS_KEY_FILE naming a missing file, then the error names it', () => {
    const file = path.join(root, 'old-keys');

    const error = failureOf(() =>
      loadKeyring(
        configWith({
          SCIMFLOW_ENCRYPTION_KEY: newKey().toString('base64'),
          SCIMFLOW_ENCRYPTION_PREVIOUS_KEY_FILE: file,
        }),
        { createIfMissing: false },
      ),
    );

    expect(error.message).toContain(`the previous-key file ${file}`);
  });
});
