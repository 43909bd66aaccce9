import {
  type IntentRequest,
  intentWorkflowId,
  laneIdOf,
  type QueuedIntent,
  resourceOf,
} from '../shared/intents';
import type { OperationRecord, OperationStore } from './store';

/**
 * Records intents in the outbox, in order. Called with the transaction of the directory change that issued them,
 * the change and its intents are committed together or not at all; delivery to Temporal comes after the commit.
 */
export async function recordIntents(
  outbox: Pick<OperationStore, 'recordOperation'>,
  requests: IntentRequest[],
): Promise<OperationRecord[]> {
  const recorded: OperationRecord[] = [];
  for (const request of requests) {
    const { resourceType, resourceId } = resourceOf(request);
    const operation = { appId: request.input.appId, intent: request.intent, resourceType, resourceId };
    recorded.push(
      await outbox.recordOperation({ ...operation, laneId: laneIdOf(request) }, (sequence) => {
        const workflowId = intentWorkflowId(request, sequence);
        const queued: QueuedIntent = { ...request, workflowId };
        return { workflowId, request: queued };
      }),
    );
  }
  return recorded;
}
