import type { ScimflowClient } from './apiClient';
import type { Output } from './output';

/** A mistake in how the CLI was called (exit code 2), as opposed to an error the API answered (exit code 1). */
export class UsageError extends Error {}

/** Exit codes: 0 done, 1 the API (or the run) failed, 2 usage, 3 a reconciliation waits for --confirm-deletions. */
export const EXIT = { ok: 0, failed: 1, usage: 2, needsConfirmation: 3 } as const;

/** What every command's action works with: built (by `run`) when the action starts, from the global options. */
export interface Context {
  client: ScimflowClient;
  json: boolean;
  out: Output;
  /** Sets the exit code (an action that ends normally exits 0). */
  exit: (code: number) => void;
}
