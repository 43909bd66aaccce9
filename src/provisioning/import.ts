import { RecordGoneError } from './errors';
import { DirectoryChanges } from '../directory/changes';
import { type DirectoryApp, type DirectoryUser, groupInputSchema } from '../directory/model';
import type { DirectoryStore } from '../directory/store';
import { ScimError } from '../scim/errors';
import type { ScimClient } from '../scim/client';
import type { ScimGroup, ScimUser } from '../scim/schemas';
import type { IntentDispatcher } from '../shared/intents';
import { groupKey, Links, userKey } from './links';
import { directoryMatchKey, directoryUserFromScim, remoteMatchKeys } from './mapping';
import { remoteMemberIds } from './remoteWrites';
import type { Targets } from './targets';

/** What to bring in: users, groups (as directory groups), and the groups' memberships. */
export interface ImportRequest {
  appId: string;
  users: boolean;
  groups: boolean;
  memberships: boolean;
}

/** The result of `importFromApp`, shaped like an intent's result (`outcome`, `detail`) plus its counts. */
export interface ImportReport {
  outcome: 'written' | 'unchanged';
  detail: string;
  counts: {
    /** Directory users created from the app's users. */
    created: number;
    /** Existing directory users and groups linked to the app's objects. */
    linked: number;
    /** Directory groups created from the app's groups. */
    groupsCreated: number;
    /** Directory group memberships added from the app's groups. */
    membershipsAdded: number;
    errors: number;
  };
  /** Objects of the app that were linked before this import. */
  alreadyLinked: { users: number; groups: number };
  /** The directory group the imported users were put in. */
  importGroup: { id: string; displayName: string } | null;
  /** The first 100 objects that could not be imported, and why. */
  errors: { resourceType: 'User' | 'Group'; remoteId: string; name: string; error: string }[];
  requests: { list: number; read: number };
}

/** Where an import stands; heartbeated, so a retried activity resumes at the page it had reached. */
export interface ImportProgress {
  phase: 'users' | 'groups' | 'done';
  startIndex: number;
  /** Under cursor paging, the cursor of the page to read next. */
  cursor?: string;
  report: ImportReport;
}

const ERRORS_LISTED = 100;
const DISPLAY_NAME_MAX = 256;

/** The directory group an app's imported users go into, reused by every import from that app. */
function importGroupName(app: Pick<DirectoryApp, 'name'>): string {
  return `Imported from ${app.name}`.slice(0, DISPLAY_NAME_MAX);
}

/**
 * Import from an app: page through its users (and groups), pair each with a directory record by the app's match
 * attribute (groups by displayName), create the records that are missing, and link the remote ids, so that
 * later provisioning updates instead of creating. Nothing is written to the app. Links made here have the status
 * `imported`: reconciliation leaves such objects alone until they are in the app's scope.
 *
 * Directory changes that can move users into an app's scope (joining the import group, or a group that is
 * assigned somewhere) go through the intent planner and are dispatched, like the same change made in the API.
 */
export class AppImport {
  private readonly links: Links;
  private readonly changes: DirectoryChanges;

  constructor(
    private readonly store: DirectoryStore,
    private readonly targets: Targets,
    private readonly dispatcher: IntentDispatcher,
  ) {
    this.links = new Links(store);
    this.changes = new DirectoryChanges(store);
  }

  async run(
    request: ImportRequest,
    hooks: { resume?: ImportProgress; onProgress?: (progress: ImportProgress) => void } = {},
  ): Promise<ImportReport> {
    const app = await this.targets.app(request.appId);
    const client = this.targets.clientFor(app);
    const progress: ImportProgress = hooks.resume ?? {
      phase: request.users ? 'users' : request.groups ? 'groups' : 'done',
      startIndex: 1,
      report: emptyReport(),
    };
    const { report } = progress;
    const userByRemoteId = new Map<string, string>();
    const groupByRemoteId = new Map<string, string>();
    for (const link of await this.store.listLinks(app.id)) {
      if (link.remoteId)
        (link.resourceType === 'User' ? userByRemoteId : groupByRemoteId).set(link.remoteId, link.localId);
    }
    const failed = (resourceType: 'User' | 'Group', remoteId: string, name: string, error: unknown) => {
      report.counts.errors++;
      if (report.errors.length < ERRORS_LISTED) {
        report.errors.push({
          resourceType,
          remoteId,
          name,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    };

    if (progress.phase === 'users') {
      const byEmail = app.userMatchAttribute === 'email' ? await this.usersByEmail() : null;
      for await (const page of client.listPages('Users', {
        pageSize: app.reconcile.pageSize,
        startIndex: progress.startIndex,
        cursor: progress.cursor,
      })) {
        report.requests.list++;
        const imported: string[] = [];
        for (const remote of page.resources) {
          if (userByRemoteId.has(remote.id)) {
            report.alreadyLinked.users++;
            continue;
          }
          try {
            const userId = await this.importUser(app, remote, byEmail, report);
            userByRemoteId.set(remote.id, userId);
            imported.push(userId);
          } catch (error) {
            if (endsTheRun(error)) throw error;
            failed('User', remote.id, remote.userName, error);
          }
        }
        if (imported.length) {
          const group = await this.importGroup(app, report);
          await this.addMembers(group, imported);
        }
        if (page.last) {
          Object.assign(progress, {
            phase: request.groups ? 'groups' : 'done',
            startIndex: 1,
            cursor: undefined,
          });
        } else Object.assign(progress, { startIndex: page.nextStartIndex, cursor: page.nextCursor });
        hooks.onProgress?.(progress);
      }
    }

    if (progress.phase === 'groups') {
      for await (const page of client.listPages('Groups', {
        pageSize: app.reconcile.pageSize,
        startIndex: progress.startIndex,
        cursor: progress.cursor,
      })) {
        report.requests.list++;
        for (const remote of page.resources) {
          try {
            await this.importGroupFromApp(
              app,
              client,
              remote,
              request,
              userByRemoteId,
              groupByRemoteId,
              report,
            );
          } catch (error) {
            if (endsTheRun(error)) throw error;
            failed('Group', remote.id, remote.displayName, error);
          }
        }
        if (page.last) Object.assign(progress, { phase: 'done', startIndex: 1, cursor: undefined });
        else Object.assign(progress, { startIndex: page.nextStartIndex, cursor: page.nextCursor });
        hooks.onProgress?.(progress);
      }
    }

    const { created, linked, groupsCreated, membershipsAdded, errors } = report.counts;
    report.detail =
      `${created} user(s) created, ${linked} linked, ${groupsCreated} group(s) created, ` +
      `${membershipsAdded} membership(s) added, ${errors} error(s); already linked: ` +
      `${report.alreadyLinked.users} user(s), ${report.alreadyLinked.groups} group(s)`;
    report.outcome = created + linked + groupsCreated + membershipsAdded > 0 ? 'written' : 'unchanged';
    return report;
  }

  /** Links the remote user to its directory record (found by the app's match attribute) or to a new one. */
  private async importUser(
    app: DirectoryApp,
    remote: ScimUser,
    byEmail: Map<string, string> | null,
    report: ImportReport,
  ): Promise<string> {
    const existing = await this.findDirectoryUser(app, remote, byEmail);
    if (existing) {
      const link = await this.store.getLink(app.id, 'User', existing.id);
      if (link?.remoteId)
        throw new Error(`${existing.userName} is already linked to the app's user ${link.remoteId}`);
      await this.links.imported(userKey(app.id, existing.id), remote.id, remote);
      report.counts.linked++;
      return existing.id;
    }
    const user = await this.store.createUser(directoryUserFromScim(remote));
    await this.links.imported(userKey(app.id, user.id), remote.id, remote);
    const key = byEmail && directoryMatchKey('email', user);
    if (key && byEmail) byEmail.set(key, user.id);
    report.counts.created++;
    return user.id;
  }

  private async findDirectoryUser(
    app: DirectoryApp,
    remote: ScimUser,
    byEmail: Map<string, string> | null,
  ): Promise<DirectoryUser | null> {
    switch (app.userMatchAttribute) {
      case 'userName':
        return this.store.findUserByUserName(remote.userName);
      case 'externalId':
        // scimflow writes the directory id as externalId; an object it did not write may carry anything.
        return remote.externalId ? this.store.getUser(remote.externalId) : null;
      case 'email': {
        const userId = remoteMatchKeys('email', remote)
          .map((key) => byEmail?.get(key))
          .find(Boolean);
        return userId ? this.store.getUser(userId) : null;
      }
    }
  }

  /** Directory users by the e-mail the app's `email` match uses (primary, else first). */
  private async usersByEmail(): Promise<Map<string, string>> {
    const index = new Map<string, string>();
    for (let offset = 0; ; offset += 500) {
      const page = await this.store.listUsers({ offset, limit: 500 });
      for (const user of page.items) {
        const key = directoryMatchKey('email', user);
        if (key && !index.has(key)) index.set(key, user.id);
      }
      if (offset + page.items.length >= page.total || page.items.length === 0) return index;
    }
  }

  /** A directory group per remote group (matched by displayName, else created), linked, with its members. */
  private async importGroupFromApp(
    app: DirectoryApp,
    client: ScimClient,
    remote: ScimGroup,
    request: ImportRequest,
    userByRemoteId: Map<string, string>,
    groupByRemoteId: Map<string, string>,
    report: ImportReport,
  ): Promise<void> {
    let groupId = groupByRemoteId.get(remote.id);
    if (groupId) report.alreadyLinked.groups++;
    else {
      const existing = await this.store.findGroupByDisplayName(remote.displayName);
      if (existing) {
        const link = await this.store.getLink(app.id, 'Group', existing.id);
        if (link?.remoteId)
          throw new Error(`${existing.displayName} is already linked to the app's group ${link.remoteId}`);
        groupId = existing.id;
        report.counts.linked++;
      } else {
        // The directory's own rules (control characters, length) apply to what an app sends, too.
        const input = groupInputSchema.safeParse({ displayName: remote.displayName });
        if (!input.success)
          throw new Error(`displayName ${JSON.stringify(remote.displayName)} cannot be imported`);
        groupId = (await this.store.createGroup(input.data)).id;
        report.counts.groupsCreated++;
      }
      await this.links.imported(groupKey(app.id, groupId), remote.id, { displayName: remote.displayName });
      groupByRemoteId.set(remote.id, groupId);
    }
    if (!request.memberships) return;
    let memberIds: string[];
    if (Array.isArray(remote.members)) memberIds = remote.members.map((member) => member.value);
    else {
      // Left out of the list (some targets never list members): read the group itself.
      report.requests.read++;
      memberIds = await remoteMemberIds(client, remote.id);
    }
    // Members the directory knows (linked users); nested groups and users the import did not bring stay out.
    const userIds = [
      ...new Set(
        memberIds.flatMap((id) => (userByRemoteId.has(id) ? [userByRemoteId.get(id) as string] : [])),
      ),
    ];
    report.counts.membershipsAdded += await this.addMembers(groupId, userIds);
    // The app's group already holds them: later membership syncs must not send them again.
    await this.store.addRemoteMembers(app.id, groupId, userIds);
  }

  private async importGroup(app: DirectoryApp, report: ImportReport): Promise<string> {
    if (report.importGroup) return report.importGroup.id;
    const displayName = importGroupName(app);
    const group =
      (await this.store.findGroupByDisplayName(displayName)) ??
      (await this.store.createGroup({ displayName }));
    report.importGroup = { id: group.id, displayName: group.displayName };
    return group.id;
  }

  /**
   * Adds members to a directory group as `PUT /api/groups/:id/members/:userId` would: a user who thereby enters
   * the scope of an app (the group is assigned to one) is provisioned there by the intents this issues.
   */
  private async addMembers(groupId: string, userIds: string[]): Promise<number> {
    const { result: added, operations } = await this.changes.commit(async (tx, planner) => {
      const group = await tx.getGroup(groupId);
      if (!group) throw new RecordGoneError('group', groupId);
      const current = new Set(group.memberIds);
      const joining = userIds.filter((userId) => !current.has(userId));
      if (joining.length === 0) return { result: 0, plan: { intents: [] } };
      const change = await planner.before(joining);
      const update = await tx.updateGroup(groupId, { memberIds: [...group.memberIds, ...joining] });
      if (!update) throw new RecordGoneError('group', groupId);
      // Members only join here, so nobody leaves a scope: no deprovisioning reason applies.
      const plan = await change.planFor({ membershipChanges: [{ groupId, joined: update.added }] });
      return { result: update.added.length, plan };
    });
    await this.dispatcher.handOver(operations);
    return added;
  }
}

/** Failures that are not about one object: retried by the activity (network, 429, 5xx) or final (app gone). */
function endsTheRun(error: unknown): boolean {
  return (error instanceof ScimError && error.retryable) || error instanceof RecordGoneError;
}

function emptyReport(): ImportReport {
  return {
    outcome: 'unchanged',
    detail: '',
    counts: { created: 0, linked: 0, groupsCreated: 0, membershipsAdded: 0, errors: 0 },
    alreadyLinked: { users: 0, groups: 0 },
    importGroup: null,
    errors: [],
    requests: { list: 0, read: 0 },
  };
}
