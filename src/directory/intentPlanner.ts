import type { DeprovisionReason, GroupIntentName, IntentRequest, UserIntentName } from '../shared/intents';
import type { DeletionTally } from './deletionGuard';
import type { DirectoryApp, DirectoryUser } from './model';
import { appIdsWithUserInScope } from './scope';
import type { AppStore, AssignmentStore, GroupStore, UserStore } from './store';

/** What the planner reads of the directory; it never writes. */
export type PlannerDirectory = Pick<UserStore, 'getUsers'> &
  Pick<GroupStore, 'getGroup'> &
  Pick<AppStore, 'getApp' | 'listApps'> &
  Pick<AssignmentStore, 'appIdsHoldingUser' | 'assignedGroupIdsOfUser' | 'appIdsAssignedGroup'>;

/** Which apps each user is in the scope of: active members of the groups assigned to the app. */
type ScopeSnapshot = Map<string, Set<string>>;

export interface DirectoryChange {
  /** Why a user who leaves an app's scope in this change leaves it. */
  reason?: DeprovisionReason;
  /** Users whose attributes changed (written to the apps that keep them in scope). */
  updatedUserIds?: string[];
  /** Groups whose members changed, with the users who joined or left. */
  membershipChanges?: { groupId: string; joined?: string[]; left?: string[] }[];
  renamedGroupIds?: string[];
  assigned?: { appId: string; groupId: string }[];
  /** Assignments that ended, by unassignment or by deletion of the group. */
  unassigned?: { appId: string; groupId: string }[];
}

/**
 * Decides which intents a directory change issues, and for which apps — the one place that does. Take a
 * snapshot of the affected users' scopes before the change (`before`), apply the change, then `intentsFor`.
 * Each app's switches are honoured here so no pointless workflow starts; the workflows check them again
 * against the app's settings at the time they run.
 */
export class IntentPlanner {
  constructor(private readonly store: PlannerDirectory) {}

  async before(userIds: string[]): Promise<PendingChange> {
    return new PendingChange(this.store, userIds, await scopeOf(this.store, userIds));
  }

  /**
   * A change to roles or to what an app may receive: one `syncRoleEntitlements` per app that receives roles or
   * entitlements (or just the given app), naming the users it may affect.
   */
  async afterRoleChange(
    affected: { roleIds?: string[]; groupIds?: string[]; allUsers?: boolean },
    options: { appId?: string; what: string },
  ): Promise<IntentRequest[]> {
    const apps = options.appId
      ? [await this.store.getApp(options.appId)].filter((app) => app !== null)
      : await this.store.listApps();
    return apps
      .filter((app) => app.provisioning.roles || app.provisioning.permissions)
      .map((app) => ({
        intent: 'syncRoleEntitlements' as const,
        input: { appId: app.id, ...affected },
        summary: `syncRoleEntitlements → ${app.name}: ${options.what}`,
      }));
  }
}

/** The intents a change issues, and what they would take away in each app (for the mass-deletion guard). */
export interface ChangePlan {
  intents: IntentRequest[];
  deletions: Map<string, DeletionTally>;
}

export class PendingChange {
  constructor(
    private readonly store: PlannerDirectory,
    private readonly userIds: string[],
    private readonly scopeBefore: ScopeSnapshot,
  ) {}

  async intentsFor(change: DirectoryChange): Promise<IntentRequest[]> {
    return (await this.planFor(change)).intents;
  }

  async planFor(change: DirectoryChange): Promise<ChangePlan> {
    const scopeAfter = await scopeOf(this.store, this.userIds);
    const apps = new Map((await this.store.listApps()).map((app) => [app.id, app]));
    const users = new Map((await this.store.getUsers(this.userIds)).map((user) => [user.id, user]));
    const requests: IntentRequest[] = [];
    const userIntent = (
      intent: UserIntentName,
      app: DirectoryApp,
      userId: string,
      reason?: DeprovisionReason,
    ) => {
      const name = users.get(userId)?.userName ?? userId;
      requests.push({
        intent,
        input: { appId: app.id, userId, reason },
        summary: `${intent} ${name} → ${app.name}`,
      });
    };
    const groupIntent = async (intent: GroupIntentName, app: DirectoryApp, groupId: string) => {
      const name = (await this.store.getGroup(groupId))?.displayName ?? groupId;
      requests.push({
        intent,
        input: { appId: app.id, groupId },
        summary: `${intent} ${name} → ${app.name}`,
      });
    };

    const newlyAssigned = new Set((change.assigned ?? []).map(({ appId, groupId }) => `${appId} ${groupId}`));
    const groupsCreatedWithMembers = new Set<string>();
    for (const { appId, groupId } of change.assigned ?? []) {
      const app = apps.get(appId);
      if (app?.provisioning.createGroups) {
        await groupIntent('createGroup', app, groupId);
        groupsCreatedWithMembers.add(appId);
      }
    }

    const entering = new Set<string>();
    const changedMembers = new Set(
      (change.membershipChanges ?? []).flatMap((c) => [...(c.joined ?? []), ...(c.left ?? [])]),
    );
    for (const userId of this.userIds) {
      const before = this.scopeBefore.get(userId) ?? new Set<string>();
      const after = scopeAfter.get(userId) ?? new Set<string>();
      for (const appId of after) {
        const app = apps.get(appId);
        if (!app) continue;
        if (!before.has(appId)) {
          // A group created for the app provisions its own members before adding them.
          const provisionedByGroup =
            groupsCreatedWithMembers.has(appId) &&
            (await this.store.assignedGroupIdsOfUser(appId, userId)).some((g) =>
              newlyAssigned.has(`${appId} ${g}`),
            );
          if (!provisionedByGroup && (app.provisioning.createUsers || app.provisioning.updateUsers)) {
            userIntent('provisionUser', app, userId);
            entering.add(`${appId} ${userId}`);
          }
        } else if (
          (change.updatedUserIds?.includes(userId) && app.provisioning.updateUsers) ||
          // A membership change may change the user's roles, and with them its entitlements.
          (changedMembers.has(userId) && (app.provisioning.roles || app.provisioning.permissions))
        ) {
          userIntent('updateUser', app, userId);
        }
      }
      for (const appId of before) {
        const app = apps.get(appId);
        if (app && !after.has(appId) && app.provisioning.deleteUsers) {
          userIntent('deprovisionUser', app, userId, change.reason);
        }
      }
    }

    const deletions = new Map<string, DeletionTally>();
    const membershipsLeft: { appId: string; userId: string }[] = [];
    const tallyOf = (appId: string) => {
      const tally = deletions.get(appId) ?? { users: 0, groups: 0, memberships: 0 };
      deletions.set(appId, tally);
      return tally;
    };
    for (const { groupId, joined = [], left = [] } of change.membershipChanges ?? []) {
      for (const appId of await this.store.appIdsAssignedGroup(groupId)) {
        const app = apps.get(appId);
        if (!app?.provisioning.groupMembership || newlyAssigned.has(`${appId} ${groupId}`)) continue;
        // Users entering the app's scope join their remote groups when provisioned; the rest need the sync.
        if ([...joined, ...left].some((userId) => !entering.has(`${appId} ${userId}`))) {
          await groupIntent('syncGroupMembership', app, groupId);
        }
        membershipsLeft.push(...left.map((userId) => ({ appId, userId })));
      }
    }
    for (const groupId of change.renamedGroupIds ?? []) {
      for (const appId of await this.store.appIdsAssignedGroup(groupId)) {
        const app = apps.get(appId);
        if (app?.provisioning.updateGroups) await groupIntent('updateGroup', app, groupId);
      }
    }
    for (const { appId, groupId } of change.unassigned ?? []) {
      const app = apps.get(appId);
      if (app?.provisioning.deleteGroups) await groupIntent('deleteGroup', app, groupId);
    }
    const deprovisioned = new Set<string>();
    for (const request of requests) {
      if (request.intent === 'deprovisionUser') {
        tallyOf(request.input.appId).users++;
        deprovisioned.add(`${request.input.appId} ${request.input.userId}`);
      }
      if (request.intent === 'deleteGroup') tallyOf(request.input.appId).groups++;
    }
    // A member the change deprovisions is counted once, as a user, not again for each group it leaves.
    for (const { appId, userId } of membershipsLeft) {
      if (!deprovisioned.has(`${appId} ${userId}`)) tallyOf(appId).memberships++;
    }
    return { intents: requests, deletions };
  }
}

async function scopeOf(store: PlannerDirectory, userIds: string[]): Promise<ScopeSnapshot> {
  const snapshot: ScopeSnapshot = new Map();
  const users = new Map<string, DirectoryUser>(
    (await store.getUsers(userIds)).map((user) => [user.id, user]),
  );
  for (const userId of userIds) {
    snapshot.set(userId, new Set(await appIdsWithUserInScope(store, users.get(userId))));
  }
  return snapshot;
}
