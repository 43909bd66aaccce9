import {
  type DataConverter,
  METADATA_ENCODING_KEY,
  type Payload,
  type PayloadCodec,
} from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Keyring } from '../security/keyring';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA_KEY = 'encryption-key-id';
/** Authenticated with every payload: a value sealed for the directory (an app's credentials) does not open here. */
const SEAL_CONTEXT = 'scimflow temporal payload';

/** The module the workflow bundle and `loadDataConverter` load the failure converter from. */
export const failureConverterPath = require.resolve('./failureConverter');

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * Encrypts every payload before it reaches Temporal: the whole original Payload (its metadata says how to read
 * it) is serialized and sealed with the keyring's current key. Decoding opens whatever an earlier key sealed and
 * passes anything that is not encrypted through untouched: histories written before encryption still replay.
 */
export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly keyring: Keyring) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encodeOne(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decodeOne(payload));
  }

  encodeOne(payload: Payload): Payload {
    const serialized = temporal.api.common.v1.Payload.encode(payload).finish();
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: textEncoder.encode(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA_KEY]: textEncoder.encode(this.keyring.currentKeyId),
      },
      data: this.keyring.seal(Buffer.from(serialized), SEAL_CONTEXT),
    };
  }

  /** Throws (KeyringError) on a payload sealed with a key that is not configured, or tampered with. */
  decodeOne(payload: Payload): Payload {
    if (!isEncrypted(payload)) return payload;
    const opened = this.keyring.open(Buffer.from(payload.data ?? new Uint8Array()), SEAL_CONTEXT);
    return temporal.api.common.v1.Payload.decode(opened);
  }
}

export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
  return encoding !== undefined && encoding !== null && textDecoder.decode(encoding) === ENCRYPTED_ENCODING;
}

/**
 * The data converter of every scimflow Temporal client and worker (and of replays): payloads encrypted, failure
 * messages and stack traces moved into an encrypted payload. Without it a client reads no result.
 */
export function temporalDataConverter(keyring: Keyring): DataConverter {
  return { payloadCodecs: [new EncryptionCodec(keyring)], failureConverterPath };
}
