import { CreationInProgressError, RecordGoneError } from './errors';
import type { DirectoryApp, EffectiveAccess, ProvisioningSwitches } from '../directory/model';
import { isUserInAppScope } from '../directory/scope';
import type { DirectoryStore } from '../directory/store';
import {
  activeOperation,
  adoptedState,
  type AppManagedValues,
  appManagedAfterWrite,
  replacementUser,
  userPatchOperations,
} from '../scim/diff';
import type { ScimUser, ScimUserPayload } from '../scim/schemas';
import { Links, NoLongerWantedError, userKey } from './links';
import { desiredScimUser, directoryMatchKey, userMatch } from './mapping';
import { effectiveProfile } from './profiles';
import type { RemoteListing } from './remoteIndex';
import { createOrAdopt, deleteLinked, unlessGone, updateRemoteUser } from './remoteWrites';
import type { Target, Targets } from './targets';

export interface UserPlan {
  appName: string;
  switches: ProvisioningSwitches;
  deprovisionMode: DirectoryApp['deprovisionMode'];
  /** userName for summaries; null when the user is gone from the directory. */
  userName: string | null;
  inScope: boolean;
  remoteId: string | null;
  linkStatus: string | null;
}

export interface RemoteUserRef {
  remoteId: string;
  adopted: boolean;
}

/** How one member of a bulk provisioning ended: `busy` while another path holds its creation claim. */
export type BulkOutcome =
  { outcome: 'created' | 'adopted' | 'skipped' } | { outcome: 'busy'; claim: CreationInProgressError };

/** Provisioning of one user into one app, one SCIM call per method. No Temporal in here. */
export class UserProvisioning {
  private readonly links: Links;

  constructor(
    private readonly store: DirectoryStore,
    private readonly targets: Targets,
  ) {
    this.links = new Links(store);
  }

  /**
   * What an intent needs to decide: the app's switches, whether the user is in scope, and its link — after
   * resolving a creation another path left unfinished (so "never provisioned" is never said of a user the app may
   * hold). `claimant` names the caller, as for a creation.
   */
  async plan(appId: string, userId: string, claimant: string): Promise<UserPlan> {
    const app = await this.targets.app(appId);
    const user = await this.store.getUser(userId);
    let link = await this.store.getLink(appId, 'User', userId);
    if (user && !link?.remoteId) {
      const resolved = await this.links.resolveInterruptedCreation(
        userKey(appId, userId),
        claimant,
        app.timeoutMs,
        () => this.findAndLink(appId, userId),
      );
      if (resolved) link = await this.store.getLink(appId, 'User', userId);
    }
    return {
      appName: app.name,
      switches: app.provisioning,
      deprovisionMode: app.deprovisionMode,
      userName: user?.userName ?? null,
      inScope: await isUserInAppScope(this.store, appId, user),
      remoteId: link?.remoteId ?? null,
      linkStatus: link?.status ?? null,
    };
  }

  /**
   * The plan of an intent that brings the user into the app: `plan`, and when the user is in scope, not linked,
   * and may be created, the app's matching user looked up and adopted (`remoteId` set) — the directory read and
   * the first SCIM call in one step.
   */
  async planProvisioning(appId: string, userId: string, claimant: string): Promise<UserPlan> {
    const plan = await this.plan(appId, userId, claimant);
    if (plan.remoteId || !plan.inScope || !plan.switches.createUsers || plan.userName === null) return plan;
    const found = await this.findAndLink(appId, userId);
    return found ? { ...plan, remoteId: found.remoteId, linkStatus: 'synced' } : plan;
  }

  /** Looks the user up by the app's match attribute; a hit is adopted (linked) instead of created again. */
  async findAndLink(appId: string, userId: string): Promise<RemoteUserRef | null> {
    const app = await this.targets.app(appId);
    const user = await this.requireUser(userId);
    const match = userMatch(app.userMatchAttribute, user);
    if (!match) return null;
    const remote = await this.targets.clientFor(app).findUser(match.attribute, match.value);
    if (!remote) return null;
    await this.adopt(app, userId, remote);
    return { remoteId: remote.id, adopted: true };
  }

  /**
   * Links a remote user found by the match attribute. Its state as found is what later diffs start from, so
   * adoption writes only what differs — and only what the directory has a value for counts as written: what the
   * app holds and the directory never had stays the app's.
   */
  private async adopt(app: DirectoryApp, userId: string, remote: ScimUser): Promise<void> {
    const desired = (await this.desiredStates(app, [userId])).get(userId) as ScimUserPayload;
    const rules = this.targets.connect(app).userRules;
    await this.links.synced(userKey(app.id, userId), remote.id, adoptedState(remote, desired, rules));
  }

  /**
   * The app's users listed once for a bulk call with `lookUps` users to find, when listing costs no more requests
   * than filtered GETs would (see `RemoteIndex.usersFor`); null when filtered GETs are cheaper.
   */
  listingFor(target: Target, lookUps: number): Promise<RemoteListing<ScimUser> | null> {
    if (lookUps === 0) return Promise.resolve(null);
    return this.targets.remoteIndex(target.app).usersFor(target, lookUps);
  }

  /**
   * One user of a bulk call given a remote id: found in `listing` (or, without one, by a filtered GET) and adopted,
   * or else created when the app allows it. Under a creation claim like every creation: a user another path linked
   * meanwhile is adopted with no call; one whose claim another path holds answers `busy`; one an earlier claim
   * may have created is looked up with a filtered GET (the listing may predate it). A POST answered 409 adopts
   * what a filtered GET finds.
   */
  async provisionInBulk(
    target: Target,
    userId: string,
    claimant: string,
    listing: RemoteListing<ScimUser> | null,
  ): Promise<BulkOutcome> {
    const { app } = target;
    const key = userKey(app.id, userId);
    const user = await this.requireUser(userId);
    const lookUp = async (): Promise<RemoteUserRef | null> => {
      if (!listing) return this.findAndLink(app.id, userId);
      const remote = listing.take(directoryMatchKey(app.userMatchAttribute, user), userId);
      if (!remote) return null;
      await this.adopt(app, userId, remote);
      return { remoteId: remote.id, adopted: true };
    };
    if (!app.provisioning.createUsers) return { outcome: (await lookUp()) ? 'adopted' : 'skipped' };
    try {
      const { linked } = await createOrAdopt(
        () =>
          this.links.createOnce(key, claimant, app.timeoutMs, {
            linked: (remoteId) => ({ remoteId, adopted: true }),
            find: () => this.findAndLink(app.id, userId),
            findBeforeCreating: lookUp,
            stillWanted: async () => isUserInAppScope(this.store, app.id, await this.store.getUser(userId)),
            create: async () => {
              const desired = (await this.desiredStates(app, [userId])).get(userId) as ScimUserPayload;
              const created = await target.client.createUser(desired);
              await this.links.synced(key, created.id, desired);
              await this.noteAppManaged(target, userId, created, desired, 'created');
              return { remoteId: created.id, adopted: false };
            },
          }),
        () => this.findAndLink(app.id, userId),
      );
      return { outcome: linked.adopted ? 'adopted' : 'created' };
    } catch (error) {
      if (error instanceof CreationInProgressError) return { outcome: 'busy', claim: error };
      if (error instanceof NoLongerWantedError) return { outcome: 'skipped' };
      throw error;
    }
  }

  /** Creates the user as the directory has it, and links it; see `create`. */
  async createAndLink(appId: string, userId: string, claimant: string): Promise<RemoteUserRef> {
    const { app, desired } = await this.desired(appId, userId);
    return this.create(this.targets.connect(app), userId, desired, claimant);
  }

  /**
   * POSTs the user as `desired` and links it; the link remembers what was written. Under a creation claim
   * (`Links.createOnce`): a user another path linked meanwhile is adopted as it stands, and one whose earlier
   * creation may have landed is looked up first.
   */
  async create(
    target: Target,
    userId: string,
    desired: ScimUserPayload,
    claimant: string,
  ): Promise<RemoteUserRef> {
    const key = userKey(target.app.id, userId);
    return this.links.createOnce(key, claimant, target.app.timeoutMs, {
      linked: (remoteId) => ({ remoteId, adopted: true }),
      find: () => this.findAndLink(key.appId, userId),
      create: async () => {
        const created = await target.client.createUser(desired);
        await this.links.synced(key, created.id, desired);
        await this.noteAppManaged(target, userId, created, desired, 'created');
        return { remoteId: created.id, adopted: false };
      },
    });
  }

  /** Creates the user; one that exists already (a 409: created meanwhile, or an answer lost) is adopted. */
  async createOrAdopt(appId: string, userId: string, claimant: string): Promise<RemoteUserRef> {
    const { linked } = await createOrAdopt(
      () => this.createAndLink(appId, userId, claimant),
      () => this.findAndLink(appId, userId),
    );
    return linked;
  }

  /**
   * Writes what differs between the last written state and the directory: PATCH with only the changes, or a
   * full PUT for targets without PATCH; no call when nothing differs. A 404 surfaces as ScimError 'not-found'.
   */
  async pushChanges(appId: string, userId: string): Promise<{ written: boolean; operations: number }> {
    const { app, desired } = await this.desired(appId, userId);
    const link = await this.store.getLink(appId, 'User', userId);
    if (!link?.remoteId) throw new Error(`user ${userId} has no remote link in app ${appId}`);
    const target = this.targets.connect(app);
    const rules = target.userRules;
    const lastPushed = link.lastPushed ?? {};
    const appManaged = (await this.appManagedValues(appId, [userId])).get(userId);
    const operations = userPatchOperations(lastPushed, desired, rules, { appManaged });
    if (operations.length === 0) {
      if (link.status !== 'synced') await this.links.synced(link, link.remoteId, link.lastPushed);
      return { written: false, operations: 0 };
    }
    const answer = await updateRemoteUser(target, link.remoteId, operations, (current) =>
      replacementUser(current, desired, rules, { written: lastPushed, appManaged }),
    );
    // What the target now holds: the selected attributes as desired, the others as they were.
    await this.links.synced(link, link.remoteId, replacementUser(lastPushed, desired, rules, { appManaged }));
    await this.noteAppManaged(
      target,
      userId,
      answer,
      desired,
      operations.map((operation) => operation.path as string),
    );
    return { written: true, operations: operations.length };
  }

  /**
   * After a write the app answered with the user as it now holds it: every written attribute it holds otherwise
   * is recorded as app-managed for this user (see `appManagedAfterWrite`), and not written again while the
   * directory wants the same value. No answer (a 204): nothing is learnt here; reconciliation reads it back.
   */
  async noteAppManaged(
    target: Target,
    userId: string,
    answer: Record<string, unknown> | null,
    desired: ScimUserPayload,
    writtenPaths: string[] | 'created',
  ): Promise<void> {
    if (!answer) return;
    const findings = appManagedAfterWrite(answer, desired, target.userRules, writtenPaths);
    if (findings.length === 0) return;
    await this.store.recordAppManagedAttributes(
      target.app.id,
      findings.map((finding) => ({ resourceType: 'User' as const, localId: userId, ...finding })),
    );
  }

  /** The values each user's app manages itself (attribute → fingerprint), by user id. */
  async appManagedValues(appId: string, userIds: string[]): Promise<Map<string, AppManagedValues>> {
    const recorded = await this.store.appManagedAttributesOf(appId, 'User', userIds);
    return new Map(
      [...recorded].map(([userId, attributes]) => [
        userId,
        new Map(attributes.map((attribute) => [attribute.attribute, attribute.wanted])),
      ]),
    );
  }

  /**
   * Sets `active` to false remotely (a real boolean: some targets reject the "False" string). A user already
   * deleted in the app counts as deprovisioned.
   */
  async deactivate(
    appId: string,
    userId: string,
    options: {
      /** The user as just read from the app (reconciliation): written even if the link says deactivated, and
       *  the base of a PUT, so no second read. */
      asFound?: Record<string, unknown>;
    } = {},
  ): Promise<{ written: boolean; gone: boolean }> {
    const target = this.targets.connect(await this.targets.app(appId));
    const link = await this.store.getLink(appId, 'User', userId);
    const remoteId = link?.remoteId;
    if (!link || !remoteId) return { written: false, gone: false };
    const lastPushed = link.lastPushed ?? {};
    const deactivated = { ...lastPushed, active: false };
    const alreadyDone =
      link.status === 'deprovisioned' && userPatchOperations(lastPushed, deactivated).length === 0;
    if (alreadyDone && !options.asFound) return { written: false, gone: false };
    const outcome = await unlessGone(() =>
      updateRemoteUser(
        target,
        remoteId,
        [activeOperation(false, target.profile.activeWrite)],
        (current) => ({ ...current, active: false }),
        options.asFound,
        { activation: true },
      ),
    );
    if (outcome === 'gone') {
      // Already deleted in the app: nothing left to deactivate, and nothing to link to.
      await this.links.forget(link);
      return { written: false, gone: true };
    }
    await this.links.deprovisioned(link, remoteId, deactivated);
    return { written: true, gone: false };
  }

  /** The desired SCIM state of many users in one app, with few directory reads (for bulk work). */
  async desiredStates(app: DirectoryApp, userIds: string[]): Promise<Map<string, ScimUserPayload>> {
    const users = await this.store.getUsers(userIds);
    const managerIds = users.flatMap((user) => (user.manager ? [user.manager] : []));
    const managerLinks = new Map(
      (await this.store.getLinks(app.id, 'User', managerIds)).map((link) => [link.localId, link.remoteId]),
    );
    const { roles, permissions } = app.provisioning;
    const access =
      roles || permissions ? await this.store.effectiveAccess(userIds) : new Map<string, EffectiveAccess>();
    const assigned = permissions ? new Set(await this.store.appPermissionKeys(app.id)) : new Set<string>();
    const { mapping } = effectiveProfile(app);
    return new Map(
      users.map((user) => [
        user.id,
        desiredScimUser(
          user,
          {
            managerRemoteId: (user.manager && managerLinks.get(user.manager)) || undefined,
            roles: roles ? (access.get(user.id)?.roles ?? []) : undefined,
            // Only permissions assigned to the app ever reach it ("Assign Permissions"; none assigned, none sent).
            entitlements: permissions
              ? (access.get(user.id)?.permissions ?? []).filter((key) => assigned.has(key))
              : undefined,
          },
          mapping,
        ),
      ]),
    );
  }

  /** Deletes the remote user; one already gone (404) counts as deleted. Forgets the link and memberships. */
  async delete(appId: string, userId: string): Promise<{ written: boolean }> {
    const client = this.targets.clientFor(await this.targets.app(appId));
    const link = await this.store.getLink(appId, 'User', userId);
    return deleteLinked(this.links, link, (remoteId) => client.deleteUser(remoteId));
  }

  /** After a 404 on a linked id: the object was deleted remotely, so the next step creates it anew. */
  async forgetLink(appId: string, userId: string): Promise<void> {
    await this.links.forget(userKey(appId, userId));
  }

  async recordFailure(appId: string, userId: string, message: string): Promise<void> {
    await this.links.failed(userKey(appId, userId), message);
  }

  private async requireUser(userId: string) {
    const user = await this.store.getUser(userId);
    if (!user) throw new RecordGoneError('user', userId);
    return user;
  }

  private async desired(
    appId: string,
    userId: string,
  ): Promise<{ app: DirectoryApp; desired: ScimUserPayload }> {
    const app = await this.targets.app(appId);
    await this.requireUser(userId);
    const desired = (await this.desiredStates(app, [userId])).get(userId) as ScimUserPayload;
    return { app, desired };
  }
}
