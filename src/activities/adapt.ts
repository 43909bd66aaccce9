import { ApplicationFailure } from '@temporalio/activity';
import { RecordGoneError } from '../provisioning/errors';
import { ScimError } from '../scim/errors';
import { directoryRecordGoneType, scimFailureTypes } from '../shared/failureTypes';

/**
 * Turns a ScimError into the typed failure workflows branch on: transient and rate-limited ones are retried
 * (after the target's Retry-After when it gave one), the others are final and carry the target's detail.
 * A record deleted from the directory meanwhile is final too.
 */
function asActivityFailure(error: unknown): unknown {
  if (error instanceof RecordGoneError) {
    return ApplicationFailure.create({
      type: directoryRecordGoneType,
      message: error.message,
      nonRetryable: true,
    });
  }
  if (!(error instanceof ScimError)) return error;
  return ApplicationFailure.create({
    type: scimFailureTypes[error.kind],
    message: error.message,
    nonRetryable: !error.retryable,
    nextRetryDelay: error.kind === 'rate-limited' ? error.details.retryAfterMs : undefined,
    details: [
      {
        status: error.details.status,
        scimType: error.details.scimType,
        detail: error.details.detail,
        // Also here: a failure decoded in a workflow (a local activity's) does not carry `nextRetryDelay`.
        retryAfterMs: error.details.retryAfterMs,
      },
    ],
  });
}

/** Wraps an activity so that what it throws reaches the workflow as the typed failure above. */
export function adapt<Args extends unknown[], Result>(
  run: (...args: Args) => Promise<Result>,
): (...args: Args) => Promise<Result> {
  return async (...args) => {
    try {
      return await run(...args);
    } catch (error) {
      throw asActivityFailure(error);
    }
  };
}
