import type { RemoteLink } from '../directory/model';
import type { ScimClient } from '../scim/client';
import { membershipPatchBatches } from '../scim/diff';
import { ScimError } from '../scim/errors';
import type { PatchOperation, ScimGroupPayload, ScimUserPayload } from '../scim/schemas';
import type { Links } from './links';
import { desiredScimGroup } from './mapping';
import type { Target } from './targets';

/*
 * How a write reaches an app, and what its answer means, decided here for every path that writes — the intents'
 * activities, a group's bulk member provisioning, reconciliation — so that none of them repeats it:
 * - an update is a PATCH when the app supports it, otherwise a read–change–write PUT of the target's own
 *   resource, so attributes and members scimflow does not manage survive it (`updateRemoteUser`,
 *   `renameRemoteGroup`, `memberWrites`);
 * - a create answered 409 looks the object up and adopts it (`createOrAdopt`);
 * - a write answered 404 finds the object gone (`unlessGone`): a delete counts as done (`deleteLinked`); after
 *   an update the caller forgets the link (`Links.forget`, `Links.forgetGone`) and creates the object anew when
 *   it may;
 * - what a write leaves behind in the directory (the link, its status, what was written) is kept by `Links`.
 * The intent workflows take the same 409 and 404 turns between activities, where their histories record them.
 */

/** POSTs; a 409 means the object exists already (created meanwhile, or an answer lost earlier): adopt it. */
export async function createOrAdopt<T>(
  create: () => Promise<T>,
  adopt: () => Promise<T | null>,
): Promise<{ linked: T; adopted: boolean }> {
  try {
    return { linked: await create(), adopted: false };
  } catch (error) {
    if (!(error instanceof ScimError && error.kind === 'conflict')) throw error;
    const found = await adopt();
    if (!found) throw error;
    return { linked: found, adopted: true };
  }
}

/** A write to an id the app may have deleted meanwhile: a 404 answers `gone` instead of failing. */
export async function unlessGone(write: () => Promise<unknown>): Promise<'done' | 'gone'> {
  try {
    await write();
    return 'done';
  } catch (error) {
    if (error instanceof ScimError && error.kind === 'not-found') return 'gone';
    throw error;
  }
}

/** Deletes a linked object in the app (one already gone counts as deleted), then forgets its link. */
export async function deleteLinked(
  links: Links,
  link: RemoteLink | null,
  remove: (remoteId: string) => Promise<void>,
): Promise<{ written: boolean }> {
  const remoteId = link?.remoteId;
  if (!link || !remoteId) return { written: false };
  await unlessGone(() => remove(remoteId));
  await links.forget(link);
  return { written: true };
}

/**
 * A failure the target will repeat for this object (404, 409, any other 4xx): bulk work records it against the
 * object and goes on. Network errors, 429 and 5xx end the activity instead, so that Temporal retries it.
 */
export function refusedForGood(error: unknown): error is ScimError {
  return error instanceof ScimError && !error.retryable;
}

/**
 * Writes a remote user: PATCH with `operations` when the app takes PATCH for it; otherwise the user as the target
 * holds it (as found, or read now), changed by `replacementOf`, PUT back. `activation`: the write sets `active`
 * alone, which a profile may PATCH even when it PUTs other changes (Okta). Answers the user as the app then holds
 * it, when its answer carries it.
 */
export async function updateRemoteUser(
  target: Target,
  remoteId: string,
  operations: PatchOperation[],
  replacementOf: (current: Record<string, unknown>) => Record<string, unknown>,
  asFound?: Record<string, unknown>,
  options: { activation?: boolean } = {},
): Promise<Record<string, unknown> | null> {
  const patches =
    (await target.patches('users')) ||
    (options.activation === true &&
      target.profile.activeWrite === 'value-object' &&
      (await target.capabilities()).patch);
  if (patches) return target.client.patchUser(remoteId, operations);
  const { meta: _meta, ...current } = asFound ?? (await target.client.getUser(remoteId));
  return target.client.replaceUser(remoteId, replacementOf(current) as ScimUserPayload);
}

/** Renames a remote group: PATCH, or a PUT that keeps the members the group holds (as found, or read now). */
export async function renameRemoteGroup(
  target: Target,
  remoteId: string,
  group: { id: string; displayName: string },
  asFoundMembers?: string[],
): Promise<void> {
  if (await target.patches('groups')) {
    await target.client.patchGroup(remoteId, [
      { op: 'replace', path: 'displayName', value: group.displayName },
    ]);
    return;
  }
  const members = asFoundMembers ?? (await remoteMemberIds(target.client, remoteId));
  await target.client.replaceGroup(remoteId, replacementGroup(group, members));
}

/** A change to a remote group's members, as remote user ids. */
export interface MemberChange {
  add: string[];
  remove: string[];
  /** Every member the directory wants there (`add` included), when known: a PUT sends them all. */
  wanted?: string[];
}

/** One request of a member change, with the members it carries. */
export interface MemberWrite {
  add: string[];
  remove: string[];
  send(): Promise<void>;
}

/**
 * The requests that make a member change: PATCHes of at most the profile's `membershipBatchSize` members (adds first),
 * or, for a target without PATCH, one PUT of the members the group holds (as found, or read when sent) with the
 * change applied, so members scimflow does not manage stay.
 */
export async function memberWrites(
  target: Target,
  remoteId: string,
  group: { id: string; displayName: string },
  change: MemberChange,
  asFoundMembers?: string[],
): Promise<MemberWrite[]> {
  const { client, profile } = target;
  if (await target.patches('groups')) {
    const size = profile.membershipBatchSize;
    const patch = (add: string[], remove: string[]): MemberWrite => ({
      add,
      remove,
      send: () =>
        client.patchGroup(remoteId, membershipPatchBatches(add, remove, size, profile.memberRemoval)[0]),
    });
    return [
      ...slices(change.add, size).map((add) => patch(add, [])),
      ...slices(change.remove, size).map((remove) => patch([], remove)),
    ];
  }
  if (change.add.length + change.remove.length === 0 && !change.wanted) return [];
  const send = async () => {
    const removed = new Set(change.remove);
    const kept = (asFoundMembers ?? (await remoteMemberIds(client, remoteId))).filter(
      (id) => !removed.has(id),
    );
    const members = [...new Set([...kept, ...(change.wanted ?? change.add)])];
    await client.replaceGroup(remoteId, replacementGroup(group, members));
  };
  return [{ add: change.add, remove: change.remove, send }];
}

/** The member ids a remote group holds, read from the group itself (lists may leave members out). */
export async function remoteMemberIds(client: ScimClient, remoteId: string): Promise<string[]> {
  return ((await client.getGroup(remoteId, { withMembers: true })).members ?? []).map(
    (member) => member.value,
  );
}

function replacementGroup(group: { id: string; displayName: string }, members: string[]): ScimGroupPayload {
  return { ...desiredScimGroup(group), members: members.map((value) => ({ value })) };
}

function slices<T>(items: T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}
