import type { IntentRequest } from '../shared/intents';
import { deletionLimit, totalDeletions } from './deletionGuard';
import { DeletionsNeedConfirmationError, type RefusedDeletions } from './errors';
import { type ChangePlan, IntentPlanner } from './intentPlanner';
import { recordIntents } from './outbox';
import { usersInAppScope } from './scope';
import type { DirectoryQueries, DirectoryStore, OperationRecord } from './store';

/** What a change hands back: its own result, and the intents it issues (with what they would take away). */
export interface PlannedChange<T> {
  result: T;
  plan: ChangePlan | { intents: IntentRequest[] };
}

/**
 * Directory changes and the intents they issue, committed together (the transactional outbox): the change is
 * applied, the planner reads the state inside the same transaction (so two concurrent changes never plan from a
 * stale snapshot), the mass-deletion guard looks at the plan, and the intents are recorded in the outbox — all
 * in one transaction, or none of it. Delivery to Temporal comes after the commit.
 */
export class DirectoryChanges {
  constructor(private readonly store: Pick<DirectoryStore, 'transaction'>) {}

  async commit<T>(
    change: (tx: DirectoryQueries, planner: IntentPlanner) => Promise<PlannedChange<T>>,
    options: { confirmDeletions?: boolean } = {},
  ): Promise<{ result: T; operations: OperationRecord[] }> {
    return this.store.transaction(async (tx) => {
      const { result, plan } = await change(tx, new IntentPlanner(tx));
      if ('deletions' in plan && !options.confirmDeletions) await refuseMassDeletions(tx, plan);
      return { result, operations: await recordIntents(tx, plan.intents) };
    });
  }
}

/** Throws (rolling the change back) when the plan takes away more in some app than its threshold allows. */
async function refuseMassDeletions(tx: DirectoryQueries, plan: ChangePlan): Promise<void> {
  const refused: RefusedDeletions[] = [];
  for (const [appId, tally] of plan.deletions) {
    const total = totalDeletions(tally);
    if (total === 0) continue;
    const app = await tx.getApp(appId);
    if (!app) continue;
    const threshold = app.reconcile.deletionThreshold;
    // Within what even an empty app allows: no need to count the app's users.
    if (total <= deletionLimit(threshold, 0)) continue;
    // The app's users before the change: those in its scope now (active members of its groups), and those this
    // change deprovisions (a deactivated member is no longer in scope, and is counted once, here).
    const appUsers = (await usersInAppScope(tx, appId)).length + tally.users;
    const limit = deletionLimit(threshold, appUsers);
    if (total > limit) refused.push({ appId, appName: app.name, ...tally, total, limit });
  }
  if (refused.length > 0) throw new DeletionsNeedConfirmationError(refused);
}
