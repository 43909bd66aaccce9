import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineSignal,
  executeChild,
  log,
  ParentClosePolicy,
  setHandler,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { scimAppId, scimIntent, scimResourceId, scimResourceType } from '../shared/searchAttributes';
import { type QueuedIntent, resourceOf } from '../shared/intents';

export const enqueueIntent = defineSignal<[QueuedIntent]>('enqueueIntent');

/** How long an idle lane waits for more intents before it closes; the next intent opens a new run. */
const IDLE_BEFORE_CLOSING = '30 seconds';

/**
 * How releases before 0.2 kept a lane: one workflow per (app, resource) running its intents one at a time as
 * child workflows. The outbox keeps lanes now (`OutboxDispatcher`) and starts intents directly; this stays
 * registered so lanes started by an earlier release finish what they hold. Do not start new ones.
 */
export async function intentLane(pending: QueuedIntent[] = []): Promise<void> {
  const queue = [...pending];
  setHandler(enqueueIntent, (intent) => {
    queue.push(intent);
  });

  while (await condition(() => queue.length > 0, IDLE_BEFORE_CLOSING)) {
    const next = queue.shift() as QueuedIntent;
    await runIntent(next);
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof intentLane>(queue);
  }
  await condition(allHandlersFinished);
}

async function runIntent(queued: QueuedIntent): Promise<void> {
  const { resourceType, resourceId } = resourceOf(queued);
  try {
    await executeChild(queued.intent, {
      workflowId: queued.workflowId,
      args: [queued.input],
      staticSummary: queued.summary,
      // A lane closed by an operator must not take a half-done intent with it.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: [
        { key: scimAppId, value: queued.input.appId },
        { key: scimResourceType, value: resourceType },
        { key: scimResourceId, value: resourceId },
        { key: scimIntent, value: queued.intent },
      ],
    });
  } catch (error) {
    // Delivered twice (the outbox redelivers what it could not confirm): the intent already ran or runs.
    if (error instanceof WorkflowExecutionAlreadyStartedError) return;
    // The failed intent keeps its own failure (and the link its last error); later intents still run.
    log.warn('intent failed', { workflowId: queued.workflowId, error: String(error) });
  }
}
