import { type Client, WorkflowNotFoundError } from '@temporalio/client';

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

/** A value in a visibility (list) query: single-quoted, with backslashes and quotes escaped. */
export const visibilityString = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
