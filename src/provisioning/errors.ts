import type { LinkKey } from '../directory/store';

/**
 * The app, user or group an intent is about was deleted from the directory after the intent was issued.
 * Retrying cannot help, so activities report it as a final failure.
 */
export class RecordGoneError extends Error {
  constructor(resource: 'app' | 'user' | 'group', id: string) {
    super(`${resource} ${id} is no longer in the directory`);
    this.name = 'RecordGoneError';
  }
}

/**
 * Another path (an intent, a group's bulk provisioning, a reconciliation) holds the claim to create this user or
 * group in the app and may be sending its POST right now. Retryable: by the retry, the other has linked the object
 * (which is then adopted) or its claim has expired (and the object is looked up before it is created).
 */
export class CreationInProgressError extends Error {
  constructor(
    readonly key: LinkKey,
    readonly holder: { claimant: string; expiresAt: string },
  ) {
    super(
      `${key.resourceType} ${key.localId} is being created in app ${key.appId} by ${holder.claimant} ` +
        `(claimed until ${holder.expiresAt})`,
    );
    this.name = 'CreationInProgressError';
  }
}
