import { setCurrentDetails } from '@temporalio/workflow';
import { directory, intentOutcomes, intents } from './activities';
import { type EntitlementsIntentInput, type IntentResult, unchanged, written } from '../shared/intents';

/** Users updated at once; each batch waits for the previous, so a large role change never floods a target. */
const BATCH_SIZE = 50;
const BATCHES_IN_FLIGHT = 4;

/**
 * After a role's permissions change, a role is given to or taken from a group, a role is deleted, or the app's
 * assigned permissions change: find the app's users whose roles or entitlements may differ, and update each
 * one through its own lane (one `updateUser` intent, which writes only what differs), a few batches at a time,
 * with the progress in the run's current details.
 */
export async function syncRoleEntitlements(change: EntitlementsIntentInput): Promise<IntentResult> {
  const userIds = await directory.usersAffectedByRoleChange(change);
  if (userIds.length === 0) return unchanged('no provisioned user of this app is affected');

  const batches: string[][] = [];
  for (let i = 0; i < userIds.length; i += BATCH_SIZE) batches.push(userIds.slice(i, i + BATCH_SIZE));
  const total = { written: 0, unchanged: 0, skipped: 0, failed: 0 };
  let done = 0;
  const report = () =>
    setCurrentDetails(
      `${done}/${userIds.length} users: ${total.written} written, ${total.unchanged} unchanged, ` +
        `${total.skipped} skipped, ${total.failed} failed`,
    );
  report();

  let next = 0;
  const runBatches = async () => {
    while (next < batches.length) {
      const batch = batches[next++];
      const workflowIds = await intents.dispatchUserUpdates(change.appId, batch);
      const tally = await intentOutcomes.awaitIntents(workflowIds);
      for (const key of Object.keys(total) as (keyof typeof total)[]) total[key] += tally[key];
      done += batch.length;
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(BATCHES_IN_FLIGHT, batches.length) }, runBatches));

  const summary = `${userIds.length} user(s): ${total.written} written, ${total.unchanged} unchanged, ${total.skipped} skipped, ${total.failed} failed`;
  return total.written > 0 ? written(summary) : unchanged(summary);
}
