import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { type ScimFailureKind, scimFailureTypes } from '../shared/failureTypes';

export function isScimFailure(error: unknown, kind: ScimFailureKind): boolean {
  return (
    error instanceof ActivityFailure &&
    error.cause instanceof ApplicationFailure &&
    error.cause.type === scimFailureTypes[kind]
  );
}

/** Runs an intent; when it fails for good, the link records why before the failure is reported. */
export async function recordingFailure<T>(
  record: (message: string) => Promise<void>,
  intent: () => Promise<T>,
): Promise<T> {
  try {
    return await intent();
  } catch (error) {
    const cause = error instanceof ActivityFailure && error.cause ? error.cause : error;
    await record(cause instanceof Error ? cause.message : String(cause));
    throw error;
  }
}
