import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { hasControlCharacters } from '../directory/names';

/**
 * Whether the run is open right now, asked of the run itself: visibility (list queries) may lag behind a
 * run's close by a moment. A run Temporal does not know is not running.
 */
export async function isWorkflowRunning(
  client: Client,
  workflowId: string,
  runId?: string,
): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(workflowId, runId).describe()).status.name === 'RUNNING';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/**
 * A value in a visibility (list) query: single-quoted, with backslashes and quotes escaped. Control characters
 * (a NUL above all) have no escape there — Temporal refuses the query only after its retries — so such a value
 * is refused here, at once; the API's schemas keep them out before it comes to that.
 */
export function visibilityString(value: string): string {
  if (hasControlCharacters(value)) {
    throw new RangeError('a visibility query value cannot contain control characters');
  }
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
