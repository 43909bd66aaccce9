import { Context } from '@temporalio/activity';
import { type Client, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import type { DirectoryStore } from '../directory/store';
import { usersAffectedByRoleChange } from '../provisioning/roleEntitlements';
import type { EntitlementsIntentInput, IntentDispatcher, IntentResult } from '../shared/intents';

export interface IntentTally {
  written: number;
  unchanged: number;
  skipped: number;
  failed: number;
}

/**
 * Activities of the role and entitlement sync. Users are updated through their own lanes (an `updateUser`
 * intent each), so these writes stay ordered with the users' other changes.
 */
export function createRoleEntitlementActivities({
  store,
  dispatcher,
  temporal,
}: {
  store: DirectoryStore;
  dispatcher?: IntentDispatcher;
  temporal: () => Client;
}) {
  const requireDispatcher = () => {
    if (!dispatcher) throw new Error('this worker was started without an intent dispatcher');
    return dispatcher;
  };
  return {
    usersAffectedByRoleChange: (change: EntitlementsIntentInput) => usersAffectedByRoleChange(store, change),

    async dispatchUserUpdates(appId: string, userIds: string[]): Promise<string[]> {
      const app = await store.getApp(appId);
      const users = new Map((await store.getUsers(userIds)).map((user) => [user.id, user.userName]));
      const operations = await requireDispatcher().dispatch(
        userIds.map((userId) => ({
          intent: 'updateUser' as const,
          input: { appId, userId },
          summary: `updateUser ${users.get(userId) ?? userId} → ${app?.name ?? appId} (roles and entitlements)`,
        })),
      );
      return operations.map((operation) => operation.workflowId);
    },

    /**
     * Waits for intents to close (queued ones first have to start), heartbeating how many are done. The waits end
     * when the activity is cancelled (its worker shutting down, say): a long poll that outlived its worker would
     * hold the worker's shutdown until the intent it waits on closes.
     */
    async awaitIntents(workflowIds: string[]): Promise<IntentTally> {
      const client = temporal();
      const context = Context.current();
      const tally: IntentTally = { written: 0, unchanged: 0, skipped: 0, failed: 0 };
      for (const workflowId of workflowIds) {
        for (;;) {
          try {
            const result = (await client.withAbortSignal(context.cancellationSignal, () =>
              client.workflow.getHandle(workflowId).result(),
            )) as IntentResult;
            tally[result.outcome]++;
            break;
          } catch (error) {
            if (error instanceof WorkflowFailedError) {
              tally.failed++;
              break;
            }
            if (!(error instanceof WorkflowNotFoundError)) throw error;
            context.heartbeat(tally);
            await context.sleep(250);
          }
        }
        context.heartbeat(tally);
      }
      return tally;
    },
  };
}
