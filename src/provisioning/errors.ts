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
