import type { ListPage } from '../scim/client';
import { nameKey } from '../directory/names';
import type { LinkStore } from '../directory/store';
import type { ScimGroup, ScimUser } from '../scim/schemas';
import { remoteMatchKeys } from './mapping';
import type { Target } from './targets';

/**
 * How long a listing of an app's users or groups serves look-ups. Long enough for the many group assignments of
 * one change (100 `createGroup` runs start within seconds of each other) to share one listing, short enough that
 * objects created in the app by hand are soon seen. Staleness is safe: creation stays under a claim, a claim taken
 * over is looked up with a filtered GET, and a POST answered 409 adopts what a filtered GET finds.
 */
export const REMOTE_INDEX_TTL_MS = 45_000;

/**
 * An app's users or groups as one listing showed them, by match key, with the directory objects they are linked to.
 * A remote object linked to one directory object is never handed to another.
 */
export class RemoteListing<R extends { id: string }> {
  constructor(
    private readonly byKey: Map<string, R[]>,
    /** remote id → the directory id it is linked to (at the listing, and adopted through it since). */
    private readonly owners: Map<string, string>,
  ) {}

  get size(): number {
    return new Set([...this.byKey.values()].flat().map((remote) => remote.id)).size;
  }

  /**
   * The listed object under `key` that `localId` may adopt (linked to nobody else), reserved for it at once so
   * that no other directory object adopts it from this listing.
   */
  take(key: string | null, localId: string): R | null {
    if (key === null) return null;
    for (const remote of this.byKey.get(key) ?? []) {
      const owner = this.owners.get(remote.id);
      if (owner !== undefined && owner !== localId) continue;
      this.owners.set(remote.id, localId);
      return remote;
    }
    return null;
  }
}

type FirstPage = ListPage<ScimUser>;

/** What a full listing costs in requests, as its first page tells (unknown, without `totalResults`: too many). */
function pagesOf(first: FirstPage): number {
  if (first.last || first.resources.length === 0) return 1;
  if (first.totalResults === undefined) return Number.POSITIVE_INFINITY;
  return Math.ceil(first.totalResults / first.resources.length);
}

/**
 * One app's listings, shared by every caller of this process (all the bulk activities of a worker): concurrent
 * callers await the same requests, and a listing serves for `REMOTE_INDEX_TTL_MS`. Held by `Targets`.
 */
export class RemoteIndex {
  private users?: {
    startedAt: number;
    first: Promise<FirstPage>;
    full?: Promise<RemoteListing<ScimUser>>;
  };
  private groups?: { startedAt: number; listing: Promise<RemoteListing<ScimGroup> | null> };

  constructor(
    private readonly store: Pick<LinkStore, 'listLinks'>,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The app's users, listed once, when that is worth it for `lookUps` users to find: a listing (fresh, or being
   * made) is shared; otherwise the first page is asked, and its `totalResults` tells how many pages the whole
   * listing costs. More pages than look-ups: null, and the caller looks each user up with a filtered GET.
   */
  async usersFor(target: Target, lookUps: number): Promise<RemoteListing<ScimUser> | null> {
    const entry = this.freshUsers() ?? this.startUsers(target);
    const first = await entry.first;
    if (!entry.full && pagesOf(first) > lookUps) return null;
    entry.full ??= this.forgetOnFailure(this.listUsers(target, first), () => {
      if (this.users === entry) this.users = undefined;
    });
    return entry.full;
  }

  /**
   * The app's groups, when one page holds them all (a listing that is fresh, or the first page now, members left
   * out); null when they take more pages, and then the caller uses a filtered GET. Either answer is kept for
   * `REMOTE_INDEX_TTL_MS`, so concurrent group creations cost one request.
   */
  groupsFor(target: Target): Promise<RemoteListing<ScimGroup> | null> {
    const entry = this.groups;
    if (entry && this.now() - entry.startedAt < REMOTE_INDEX_TTL_MS) return entry.listing;
    const fresh = { startedAt: this.now(), listing: this.listGroups(target) };
    fresh.listing = this.forgetOnFailure(fresh.listing, () => {
      if (this.groups === fresh) this.groups = undefined;
    });
    this.groups = fresh;
    return fresh.listing;
  }

  /** A group the listing did not show exists after all (a POST answered 409): the next look-up lists again. */
  forgetGroups(): void {
    this.groups = undefined;
  }

  private freshUsers() {
    const entry = this.users;
    return entry && this.now() - entry.startedAt < REMOTE_INDEX_TTL_MS ? entry : undefined;
  }

  private startUsers(target: Target) {
    const entry: NonNullable<RemoteIndex['users']> = {
      startedAt: this.now(),
      first: this.firstUserPage(target),
    };
    entry.first = this.forgetOnFailure(entry.first, () => {
      if (this.users === entry) this.users = undefined;
    });
    this.users = entry;
    return entry;
  }

  private async firstUserPage(target: Target): Promise<FirstPage> {
    const pages = target.client.listPages('Users', { pageSize: target.app.reconcile.pageSize });
    try {
      const { value } = await pages.next();
      return value ?? { resources: [], totalResults: 0, startIndex: 1, nextStartIndex: 1, last: true };
    } finally {
      await pages.return(undefined);
    }
  }

  private async listUsers(target: Target, first: FirstPage): Promise<RemoteListing<ScimUser>> {
    const { userMatchAttribute, reconcile } = target.app;
    // The links are read before the pages: a link saved meanwhile points at an object that is then ours to see.
    const owners = await this.owners(target.app.id, 'User');
    const byKey = new Map<string, ScimUser[]>();
    const seen = new Set<string>();
    const add = (users: ScimUser[]) => {
      for (const user of users) {
        if (seen.has(user.id)) continue;
        seen.add(user.id);
        for (const key of remoteMatchKeys(userMatchAttribute, user)) {
          byKey.set(key, [...(byKey.get(key) ?? []), user]);
        }
      }
    };
    add(first.resources);
    if (!first.last) {
      const rest = {
        pageSize: reconcile.pageSize,
        startIndex: first.nextStartIndex,
        cursor: first.nextCursor,
      };
      for await (const page of target.client.listPages('Users', rest)) add(page.resources);
    }
    return new RemoteListing(byKey, owners);
  }

  private async listGroups(target: Target): Promise<RemoteListing<ScimGroup> | null> {
    const owners = await this.owners(target.app.id, 'Group');
    const pages = target.client.listPages('Groups', {
      pageSize: target.app.reconcile.pageSize,
      excludedAttributes: 'members',
    });
    try {
      const { value: page } = await pages.next();
      if (page && !page.last) return null;
      const byKey = new Map<string, ScimGroup[]>();
      for (const group of page?.resources ?? []) {
        const key = nameKey(group.displayName);
        byKey.set(key, [...(byKey.get(key) ?? []), group]);
      }
      return new RemoteListing(byKey, owners);
    } finally {
      await pages.return(undefined);
    }
  }

  private async owners(appId: string, resourceType: 'User' | 'Group'): Promise<Map<string, string>> {
    const links = await this.store.listLinks(appId);
    return new Map(
      links.flatMap((link) =>
        link.resourceType === resourceType && link.remoteId ? [[link.remoteId, link.localId]] : [],
      ),
    );
  }

  /** A failed listing is not kept: the next caller asks again. */
  private forgetOnFailure<T>(promise: Promise<T>, forget: () => void): Promise<T> {
    promise.catch(forget);
    return promise;
  }
}
