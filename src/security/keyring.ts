import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** The sealed format's first byte; a different one is not ours (or from a future version). */
const FORMAT = 1;
const KEY_ID_BYTES = 8;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** One 256-bit key and the short id stored with everything it seals (so decryption knows which key to use). */
export interface KeyringKey {
  id: Buffer;
  key: Buffer;
}

export class KeyringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyringError';
  }
}

/** A key's id: the first bytes of its SHA-256, which says which key sealed a value without revealing the key. */
export function keyIdOf(key: Buffer): Buffer {
  return createHash('sha256').update(key).digest().subarray(0, KEY_ID_BYTES);
}

/**
 * AES-256-GCM with a current key (which seals) and older keys (which still open what they sealed, during a
 * rotation). Sealed: format byte | key id (8) | IV (12) | tag (16) | ciphertext. `context` is authenticated, not
 * stored: a value sealed for one purpose (an app's credentials, a Temporal payload) does not open as another.
 */
export class Keyring {
  private readonly keys: KeyringKey[];

  constructor(current: Buffer, previous: Buffer[] = []) {
    for (const key of [current, ...previous]) {
      if (key.length !== 32) throw new KeyringError('an encryption key must be 32 bytes (256 bits)');
    }
    this.keys = [current, ...previous].map((key) => ({ id: keyIdOf(key), key }));
  }

  /** A new random key (what `npm start` writes to its key file the first time). */
  static generateKey(): Buffer {
    return randomBytes(32);
  }

  get currentKeyId(): string {
    return this.keys[0].id.toString('hex');
  }

  seal(plaintext: Buffer, context: string): Buffer {
    const { id, key } = this.keys[0];
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([FORMAT]), id, iv, cipher.getAuthTag(), ciphertext]);
  }

  open(sealed: Buffer, context: string): Buffer {
    if (sealed.length < 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES || sealed[0] !== FORMAT) {
      throw new KeyringError('not a value sealed by scimflow');
    }
    const id = sealed.subarray(1, 1 + KEY_ID_BYTES);
    const entry = this.keys.find((candidate) => candidate.id.equals(id));
    if (!entry) {
      throw new KeyringError(
        `sealed with key ${id.toString('hex')}, which is not configured (current ${this.currentKeyId}); ` +
          'configure it as a previous key to read it',
      );
    }
    const ivStart = 1 + KEY_ID_BYTES;
    const tagStart = ivStart + IV_BYTES;
    const decipher = createDecipheriv('aes-256-gcm', entry.key, sealed.subarray(ivStart, tagStart));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(sealed.subarray(tagStart, tagStart + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(tagStart + TAG_BYTES)), decipher.final()]);
    } catch {
      throw new KeyringError(
        'a sealed value failed authentication (tampered, or sealed for another purpose)',
      );
    }
  }

  /** Whether `sealed` was sealed with an older key (a rotation re-seals it with the current one). */
  sealedWithOlderKey(sealed: Buffer): boolean {
    return !sealed.subarray(1, 1 + KEY_ID_BYTES).equals(this.keys[0].id);
  }
}
