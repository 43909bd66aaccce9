import { randomUUID } from 'node:crypto';
import type { DirectoryStore, LinkKey } from '../directory/store';
import { CreationInProgressError } from './errors';
import { ScimError } from '../scim/errors';
import { refusedForGood } from './remoteWrites';

/** Which directory object, in which app: a `RemoteLink` answers to it as well. */
export type { LinkKey };

/**
 * How long a creation claim holds. It covers a look-up and a POST, each bounded by the SCIM client's 15 s timeout,
 * with room to spare; a claimant that died meanwhile holds the object up for at most this long, and whoever comes
 * next looks the object up before creating it.
 */
export const CREATION_CLAIM_TTL_MS = 60_000;

/** How a creation under a claim reaches its remote object. */
export interface CreationSteps<T> {
  /** Linked by another path meanwhile: what to answer for that remote id (nothing is sent). */
  linked(remoteId: string): T;
  /** Looks the object up by its match attribute and links a hit. */
  find(): Promise<T | null>;
  /**
   * Looks the object up before a creation no earlier claim made suspect (`find` is for those): e.g. in a listing
   * of the app's users. Without it, such a creation POSTs at once.
   */
  findBeforeCreating?(): Promise<T | null>;
  /** POSTs the object and links it. */
  create(): Promise<T>;
  /**
   * Asked once the claim is taken, before any call: whether the object is still to be provisioned. Work planned from
   * an older read (a group's member list) asks, since a member may have left meanwhile: its deprovisioning, which
   * ran before the claim, found nothing to undo, and after the claim it would wait for this creation. When not,
   * the claim is let go and `NoLongerWantedError` thrown.
   */
  stillWanted?(): Promise<boolean>;
}

/** The object left the app's scope between the plan that would create it and its creation claim. */
export class NoLongerWantedError extends Error {
  constructor(key: LinkKey) {
    super(`${key.resourceType} ${key.localId} is no longer in the scope of app ${key.appId}`);
    this.name = 'NoLongerWantedError';
  }
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

/**
 * How long another attempt's claim on an object must have been quiet before an attempt of the same work (its retry,
 * here or in another process) takes it over and looks the object up. An attempt whose POST timed out or lost its
 * connection does not know whether the app took it, nor when: the request may still be queued at the app and land
 * seconds later, after a look-up that found nothing, and a second POST would make a second account. So the retry
 * looks only once the first request has had this long since its claim to land (more than the SCIM client's default
 * 15 s timeout, and a margin for the app's own queue). A POST answered 429 was not taken: its claim is let go.
 */
export const SIBLING_CLAIM_QUIET_MS = 30_000;

/** For an app whose requests may take longer than the default: its timeout and this margin. */
const CLAIM_QUIET_MARGIN_MS = 15_000;

/** How long a claim must be quiet before a sibling attempt takes it over, for an app with this request timeout. */
export const claimQuietMs = (requestTimeoutMs: number) =>
  Math.max(SIBLING_CLAIM_QUIET_MS, requestTimeoutMs + CLAIM_QUIET_MARGIN_MS);

/** Each attempt's claim names the work (`claimant`) and the attempt, so no attempt takes another's over at once. */
const holderOf = (claimant: string) => `${claimant}#${randomUUID()}`;

/**
 * Creations of each object in this process, chained: one at a time per object. Two attempts of the same work can
 * run at once in one process (a local activity that timed out is retried while its POST is still on the wire):
 * the later one starts only when the earlier has ended, so it finds the object linked, or the earlier claim to
 * take over once quiet. Whoever waits for another's claim in this process is woken when the chain ends.
 */
const creationsHere = new Map<string, Promise<void>>();
const keyText = ({ appId, resourceType, localId }: LinkKey) =>
  `${appId}\u0000${resourceType}\u0000${localId}`;

/** Settles when this process's creations of the object end; undefined when this process is not creating it. */
export function creationHere(key: LinkKey): Promise<void> | undefined {
  return creationsHere.get(keyText(key));
}

/** Runs `work` when no other creation of the object runs in this process. */
async function oneAtATimeHere<T>(key: LinkKey, work: () => Promise<T>): Promise<T> {
  const here = keyText(key);
  const before = creationsHere.get(here);
  let ended!: () => void;
  const mine = new Promise<void>((resolve) => (ended = resolve));
  const chain = before ? before.then(() => mine) : mine;
  creationsHere.set(here, chain);
  try {
    await before;
    return await work();
  } finally {
    ended();
    if (creationsHere.get(here) === chain) creationsHere.delete(here);
  }
}

/** Only the key's own fields: a `RemoteLink` handed in as a key must not write its old values back. */
const keyOf = ({ appId, resourceType, localId }: LinkKey): LinkKey => ({ appId, resourceType, localId });

/**
 * The memory of what was written to each app (`remote_links`, `remote_memberships`), kept the same way by every
 * path that writes: the intents' activities, a group's bulk member provisioning, reconciliation and import.
 */
export class Links {
  constructor(
    private readonly store: DirectoryStore,
    /** Replaces `claimQuietMs` (tests only). */
    private readonly quietOverrideMs?: number,
  ) {}

  /**
   * Claims the object for a new attempt of `claimant`'s work (its holder name), taking over an earlier attempt's
   * claim once quiet for an app whose requests may take `requestTimeoutMs`.
   */
  private async claim(key: LinkKey, claimant: string, requestTimeoutMs: number) {
    const holder = holderOf(claimant);
    const quietMs = this.quietOverrideMs ?? claimQuietMs(requestTimeoutMs);
    // Held at least as long as a sibling must wait: other work never looks sooner than this work's own retry.
    const ttlMs = Math.max(CREATION_CLAIM_TTL_MS, quietMs);
    const siblings = { prefix: `${claimant}#`, quietMs };
    const claim = await this.store.claimCreation(keyOf(key), holder, ttlMs, siblings);
    return { holder, claim };
  }

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
   * An object with no link but a creation claim was being created when its creator stopped (a crash between the POST
   * and the link): the app may hold it. Resolves that before anyone decides the object was never provisioned —
   * waits (CreationInProgressError, retried) while the claim is live, then takes it over, looks the object up with
   * `find` (which links a hit) and lets the claim go. Nothing is created here. Answers whether there was one to
   * resolve (so the link may have changed).
   */
  async resolveInterruptedCreation(
    key: LinkKey,
    claimant: string,
    requestTimeoutMs: number,
    find: () => Promise<unknown>,
  ): Promise<boolean> {
    if (!(await this.store.hasCreationClaim(keyOf(key)))) return false;
    return oneAtATimeHere(key, async () => {
      const { holder, claim } = await this.claim(key, claimant, requestTimeoutMs);
      if (claim.outcome === 'busy') throw new CreationInProgressError(keyOf(key), claim);
      if (claim.outcome === 'claimed') {
        await find();
        await this.store.releaseCreationClaim(keyOf(key), holder);
      }
      return true;
    });
  }

  /**
   * Creates the object in the app once, whatever runs at once — an intent, a group's bulk provisioning, a
   * reconciliation, in any process: each of them claims the object in the store before its POST.
   * - Linked meanwhile by the claim's last holder: that remote id is adopted, nothing is sent.
   * - Claimed by another, not expired: `CreationInProgressError`, retryable.
   * - Claimed before (by an earlier attempt of the same work, once quiet for `claimQuietMs`, or by a
   *   holder that expired): its POST may have landed and its answer been lost, so the object is looked up first
   *   and a hit adopted. Attempts in this process take turns (`oneAtATimeHere`).
   * - Otherwise POSTed and linked. The claim is released after the link is saved, so a crash between the two
   *   leaves a claim that the next claimant resolves as linked. A POST refused for good (4xx) releases the
   *   claim, and so does a 429 (not taken). A POST the app answered otherwise (a 5xx) may have landed: its claim
   *   is kept but expired, so the retry takes it over at once and looks first. Any other failure (no answer, a
   *   gateway's 502/504) keeps it, since the POST may still land: the retry, by the same claimant, takes the
   *   claim over once it is quiet and looks first.
   * `claimant` is stable across the retries of one piece of work (an activity's attempts); `requestTimeoutMs` is
   * the app's (a POST may land that long after it was sent).
   */
  async createOnce<T>(
    key: LinkKey,
    claimant: string,
    requestTimeoutMs: number,
    steps: CreationSteps<T>,
  ): Promise<T> {
    return oneAtATimeHere(key, async () => {
      const { holder, claim } = await this.claim(key, claimant, requestTimeoutMs);
      if (claim.outcome === 'linked') return steps.linked(claim.remoteId);
      if (claim.outcome === 'busy') throw new CreationInProgressError(keyOf(key), claim);
      if (steps.stillWanted && !(await steps.stillWanted())) {
        await this.store.releaseCreationClaim(keyOf(key), holder);
        throw new NoLongerWantedError(keyOf(key));
      }
      try {
        const found = claim.lookFirst ? await steps.find() : ((await steps.findBeforeCreating?.()) ?? null);
        const result = found ?? (await steps.create());
        await this.store.releaseCreationClaim(keyOf(key), holder);
        return result;
      } catch (error) {
        if (refusedForGood(error) || notTaken(error))
          await this.store.releaseCreationClaim(keyOf(key), holder);
        else if (answered(error)) await this.store.expireCreationClaim(keyOf(key), holder);
        throw error;
      }
    });
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

/** A write answered 429: the app refused it before doing anything. */
const notTaken = (error: unknown) => error instanceof ScimError && error.kind === 'rate-limited';

/**
 * A write the app itself answered (500, 503, 408 …): it is over at the app, whether or not it created the object, so
 * the retry need not wait for it to land — it looks the object up first all the same. A gateway's 502 or 504 says
 * only that the app did not answer the gateway in time: the write may still be running behind it.
 */
const answered = (error: unknown) =>
  error instanceof ScimError &&
  error.details.status !== undefined &&
  error.details.status !== 502 &&
  error.details.status !== 504;
