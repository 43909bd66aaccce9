/**
 * ApplicationFailure types that SCIM activities raise, one per ScimError kind; workflows branch on them.
 * Kept free of imports so both the activity side and the workflow sandbox can use it.
 */
export const scimFailureTypes = {
  transient: 'ScimTransient',
  'rate-limited': 'ScimRateLimited',
  'not-found': 'ScimNotFound',
  conflict: 'ScimConflict',
  rejected: 'ScimRejected',
} as const;

export type ScimFailureKind = keyof typeof scimFailureTypes;

/** The app, user or group an intent is about was deleted from the directory meanwhile: final, never retried. */
export const directoryRecordGoneType = 'DirectoryRecordGone';
