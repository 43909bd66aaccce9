import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';
import { Keyring, KeyringError } from './keyring';

const KEY_BYTES = 32;

/** How to make a key, for the error messages. */
const generateHint = (target: string) =>
  `openssl rand -base64 32 > ${target} (without openssl: ` +
  `node -e "console.log(require('crypto').randomBytes(32).toString('base64'))" > ${target})`;

export interface LoadKeyringOptions {
  /** `npm start` only: write a new key to the default key file when no key is configured at all. */
  createIfMissing: boolean;
  /** Told about a key file created, one others may read, or one ignored; never any key material. */
  notice?: (message: string) => void;
}

/**
 * The process's keys (docs/operations.md, "Keys"): the current one seals, the previous ones only open what they
 * sealed, during a rotation.
 *
 * - current: `SCIMFLOW_ENCRYPTION_KEY` (base64 of 32 bytes), else the key file (`SCIMFLOW_ENCRYPTION_KEY_FILE`,
 *   default `<dataDir>/encryption-key`); `createIfMissing` creates the default file, mode 0600, once.
 * - previous: `SCIMFLOW_ENCRYPTION_PREVIOUS_KEYS` (comma-separated) and the previous-key file
 *   (`SCIMFLOW_ENCRYPTION_PREVIOUS_KEY_FILE`, default `<dataDir>/encryption-key.previous`, read when it exists; one
 *   key per line).
 *
 * Errors name the variable or file and what is wrong with it, never the value.
 */
export function loadKeyring(config: Config, options: LoadKeyringOptions): Keyring {
  const { encryption } = config;
  const notice = options.notice ?? (() => undefined);
  let current: Buffer;
  if (encryption.key !== undefined) {
    if (!encryption.keyFileIsDefault) {
      throw new KeyringError(
        'both SCIMFLOW_ENCRYPTION_KEY and SCIMFLOW_ENCRYPTION_KEY_FILE are set: set one of them',
      );
    }
    current = decodeKey(encryption.key, 'SCIMFLOW_ENCRYPTION_KEY');
    if (fs.existsSync(encryption.keyFile)) {
      notice(`SCIMFLOW_ENCRYPTION_KEY is set, so the key file ${encryption.keyFile} is not used`);
    }
  } else if (fs.existsSync(encryption.keyFile)) {
    current = readCurrentKeyFile(encryption.keyFile, notice);
  } else if (options.createIfMissing && encryption.keyFileIsDefault) {
    current = createKeyFile(encryption.keyFile, notice);
  } else {
    const named = encryption.keyFileIsDefault
      ? `no key is configured: SCIMFLOW_ENCRYPTION_KEY is unset and the key file ${encryption.keyFile} does not exist`
      : `the key file ${encryption.keyFile} (SCIMFLOW_ENCRYPTION_KEY_FILE) does not exist`;
    throw new KeyringError(
      `${named}. \`npm start\` creates the default key file on its first start; otherwise create one with ` +
        `${generateHint(encryption.keyFile)} and chmod 600 ${encryption.keyFile}, or set ` +
        'SCIMFLOW_ENCRYPTION_KEY. If scimflow has run before, restore the key it used instead: app credentials ' +
        'sealed with it cannot be read without it.',
    );
  }

  const previous = encryption.previousKeys.map((key, index) =>
    decodeKey(key, `SCIMFLOW_ENCRYPTION_PREVIOUS_KEYS (key ${index + 1})`),
  );
  if (fs.existsSync(encryption.previousKeyFile)) {
    previous.push(...readKeyFile(encryption.previousKeyFile, notice));
  } else if (!encryption.previousKeyFileIsDefault) {
    throw new KeyringError(
      `the previous-key file ${encryption.previousKeyFile} (SCIMFLOW_ENCRYPTION_PREVIOUS_KEY_FILE) does not exist`,
    );
  }
  // The current key listed again as a previous one (a half-done rotation) is harmless; drop it.
  return new Keyring(
    current,
    previous.filter(
      (key, index) => !key.equals(current) && previous.findIndex((other) => other.equals(key)) === index,
    ),
  );
}

/** Base64 of exactly 32 bytes; `source` names where it came from in the error. */
function decodeKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  if (trimmed === '') throw new KeyringError(`${source} is empty`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || trimmed.length % 4 !== 0) {
    throw new KeyringError(`${source} is not base64 (make a key with \`openssl rand -base64 32\`)`);
  }
  const key = Buffer.from(trimmed, 'base64');
  if (key.length !== KEY_BYTES) {
    throw new KeyringError(
      `${source} decodes to ${key.length} bytes; a key is ${KEY_BYTES} bytes (make one with \`openssl rand -base64 32\`)`,
    );
  }
  return key;
}

/** One key per line (blank lines and `#` comments ignored); at least one. */
function readKeyFile(file: string, notice: (message: string) => void): Buffer[] {
  const stat = fs.statSync(file);
  // Warned, not refused: mounted secrets (Docker, Kubernetes) are often 0444 and owned by root.
  if ((stat.mode & 0o077) !== 0) {
    notice(
      `the key file ${file} can be read by others (mode ${(stat.mode & 0o777).toString(8)}); ` +
        `chmod 600 ${file}`,
    );
  }
  const lines = fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (lines.length === 0) throw new KeyringError(`the key file ${file} holds no key`);
  return lines.map((line, index) => decodeKey(line, `the key file ${file} (line ${index + 1} with a key)`));
}

function readCurrentKeyFile(file: string, notice: (message: string) => void): Buffer {
  const keys = readKeyFile(file, notice);
  if (keys.length > 1) {
    throw new KeyringError(
      `the key file ${file} holds ${keys.length} keys; it holds the current key only (previous keys go in ` +
        'the previous-key file or SCIMFLOW_ENCRYPTION_PREVIOUS_KEYS)',
    );
  }
  return keys[0];
}

/**
 * A new key in the default file, 0600, in a data directory created 0700. `wx`: when two processes start at
 * once, the second one reads the key the first one wrote instead of replacing it.
 */
function createKeyFile(file: string, notice: (message: string) => void): Buffer {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = Keyring.generateKey();
  try {
    fs.writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readCurrentKeyFile(file, notice);
  }
  notice(
    `created a new encryption key in ${file}: back it up apart from the data directory's backups ` +
      '(docs/operations.md, "Keys")',
  );
  return key;
}
