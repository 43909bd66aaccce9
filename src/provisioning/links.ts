import type { ResourceType } from '../directory/model';
import type { DirectoryStore } from '../directory/store';

/** Which directory object, in which app: a `RemoteLink` answers to it as well. */
export interface LinkKey {
  appId: string;
  resourceType: ResourceType;
  localId: string;
}

export const userKey = (appId: string, userId: string): LinkKey => ({
  appId,
  resourceType: 'User',
  localId: userId,
});

export const groupKey = (appId: string, groupId: string): LinkKey => ({
  appId,
  resourceType: 'Group',
  localId: groupId,
});

/** Only the key's own fields: a `RemoteLink` handed in as a key must not write its old values back. */
const keyOf = ({ appId, resourceType, localId }: LinkKey): LinkKey => ({ appId, resourceType, localId });

/**
 * The memory of what was written to each app (`remote_links`, `remote_memberships`), kept the same way by every
 * path that writes: the intents' activities, a group's bulk member provisioning, reconciliation and import.
 */
export class Links {
  constructor(private readonly store: DirectoryStore) {}

  /** Linked to `remoteId`, and the app holds `lastPushed`: the base that later diffs start from. */
  async synced(
    key: LinkKey,
    remoteId: string | null,
    lastPushed: Record<string, unknown> | null,
  ): Promise<void> {
    await this.store.saveLink({ ...keyOf(key), remoteId, lastPushed, status: 'synced', lastError: null });
  }

  /**
   * A group linked to a remote group it was not linked to before (created empty, or adopted): scimflow has
   * written no members there yet, so the next membership sync sends the directory's members (an idempotent add
   * for those the group already holds).
   */
  async groupLinked(key: LinkKey, remoteId: string, displayName: string): Promise<void> {
    await this.store.forgetRemoteMembershipsOfGroup(key.appId, key.localId);
    await this.synced(key, remoteId, { displayName });
  }

  async deprovisioned(
    key: LinkKey,
    remoteId: string | null,
    lastPushed: Record<string, unknown> | null,
  ): Promise<void> {
    await this.store.saveLink({
      ...keyOf(key),
      remoteId,
      lastPushed,
      status: 'deprovisioned',
      lastError: null,
    });
  }

  /** Linked by an import: reconciliation leaves the object alone until it is in the app's scope. */
  async imported(key: LinkKey, remoteId: string, lastPushed: Record<string, unknown>): Promise<void> {
    await this.store.saveLink({ ...keyOf(key), remoteId, lastPushed, status: 'imported', lastError: null });
  }

  /** The last write failed for good; the remote id and what was last written stay as they were. */
  async failed(key: LinkKey, message: string): Promise<void> {
    await this.store.saveLink({ ...keyOf(key), status: 'failed', lastError: message });
  }

  /**
   * The remote object is gone (a 404 on its id, or deleted by scimflow): the link and the memberships written
   * with it are forgotten, so the next step creates the object anew.
   */
  async forget(key: LinkKey): Promise<void> {
    if (key.resourceType === 'User') await this.store.forgetRemoteMembershipsOfUser(key.appId, key.localId);
    else await this.store.forgetRemoteMembershipsOfGroup(key.appId, key.localId);
    await this.store.deleteLink(key.appId, key.resourceType, key.localId);
  }

  /**
   * The remote object `goneRemoteId` is gone (a 404, or missing from the app's list): its link is forgotten,
   * unless the link points at another object by now (created meanwhile, e.g. by an earlier attempt), whose
   * remote id is answered.
   */
  async forgetGone(key: LinkKey, goneRemoteId: string | null): Promise<string | null> {
    const link = await this.store.getLink(key.appId, key.resourceType, key.localId);
    if (!link?.remoteId) return null;
    if (link.remoteId !== goneRemoteId) return link.remoteId;
    await this.forget(link);
    return null;
  }
}
