import type { ReconciliationItem } from '../../directory/store';
import { adoptedState, type DiffOptions, replacementUser, userPatchOperations } from '../../scim/diff';
import type { PatchOperation, ScimUser, ScimUserPayload } from '../../scim/schemas';
import { runLimited } from '../concurrency';
import { CreationInProgressError } from '../errors';
import { userKey } from '../links';
import { createOrAdopt, refusedForGood, unlessGone, updateRemoteUser } from '../remoteWrites';
import { deferred, deferredToCreator, noted } from './items';
import { counted, type RepairPass } from './types';

/** Writes in flight at once while repairing. */
export const RECONCILE_CONCURRENCY = 16;
/** Items loaded and checkpointed together while repairing. */
const CHUNK = 256;

/**
 * Creates (or adopts), updates and deprovisions the users the comparison planned, `RECONCILE_CONCURRENCY` at a
 * time, in chunks checkpointed with their outcomes. A retryable failure lets the writes in flight finish, saves
 * them, and ends the activity; the items it did not reach are still planned for the retry. Users are created under
 * the pass's creation claims; one that another path is creating is deferred to it.
 */
export async function repairUsers(pass: RepairPass): Promise<void> {
  const { services, run, view, hooks, progress } = pass;
  let done = 0;
  for (;;) {
    const chunk = await services.store.reconciliationItems(run.workflowId, {
      resourceType: 'User',
      state: 'planned',
      limit: CHUNK,
    });
    if (chunk.length === 0) return;
    const { results, failure } = await runLimited(chunk, RECONCILE_CONCURRENCY, (planned) =>
      // The desired state as read when this activity started; in scope means it has one.
      repairUser(pass, planned, view.desired.get(planned.localId as string)),
    );
    const settled = results.map((result, index) => result ?? chunk[index]);
    await services.store.saveReconciliationItems(run.workflowId, settled, progress);
    done += settled.length;
    hooks.onProgress?.({ phase: 'repair users', done });
    if (failure) throw failure.error;
  }
}

async function repairUser(
  pass: RepairPass,
  planned: ReconciliationItem,
  desired: ScimUserPayload | undefined,
): Promise<ReconciliationItem> {
  const { store, links } = pass.services;
  const key = userKey(pass.view.app.id, planned.localId as string);
  if (pass.hooks.busy.users.has(key.localId)) return deferred(planned);
  try {
    switch (planned.action) {
      case 'create':
        return await createUser(pass, planned, desired);
      case 'update':
        return await updateUser(pass, planned, desired);
      case 'deprovision':
        return await deprovisionUser(pass, planned, desired);
      default: {
        // Unchanged in the app: the link catches up (what was last written, its status).
        const link = await store.getLink(key.appId, 'User', key.localId);
        if (link && desired) await links.synced(link, link.remoteId, desired);
        else if (link) await links.deprovisioned(link, link.remoteId, link.lastPushed);
        return { ...planned, state: 'noted' };
      }
    }
  } catch (error) {
    if (error instanceof CreationInProgressError) return deferredToCreator(planned, error);
    if (!refusedForGood(error)) throw error;
    await links.failed(key, error.message);
    return { ...planned, state: 'error', error: error.message };
  }
}

async function createUser(
  pass: RepairPass,
  planned: ReconciliationItem,
  desired: ScimUserPayload | undefined,
): Promise<ReconciliationItem> {
  const { services, view, progress } = pass;
  const { users, links } = services;
  const key = userKey(view.app.id, planned.localId as string);
  if (!desired) return noted(planned, 'skipped', 'left the scope meanwhile');
  if (planned.remote) {
    // Adopted as found: linked to what the app holds, then only what differs is written.
    const remote = planned.remote as ScimUser;
    const adopted = adoptedState(remote, desired, view.rules);
    await links.synced(key, remote.id, adopted);
    const diff = { written: {}, appManaged: view.appManaged.get(key.localId) };
    const operations = userPatchOperations(remote, desired, view.rules, diff);
    if (operations.length) {
      await writeUser(pass, key.localId, remote, operations, desired, diff);
      await links.synced(key, remote.id, replacementUser(adopted, desired, view.rules, diff));
    }
    const wrote = operations.map((o) => o.path).join(', ');
    return { ...planned, state: 'done', detail: operations.length ? `adopted; wrote ${wrote}` : 'adopted' };
  }
  const createdMeanwhile = await links.forgetGone(key, planned.remoteId);
  if (createdMeanwhile) return { ...planned, state: 'done', remoteId: createdMeanwhile };
  const { linked, adopted } = await createOrAdopt(
    counted(progress, 'write', () => users.create(view.target, key.localId, desired, pass.claimant)),
    counted(progress, 'read', () => users.findAndLink(key.appId, key.localId)),
  );
  if (!adopted) return { ...planned, state: 'done', remoteId: linked.remoteId };
  // Adopted after a 409: what it holds may differ from the directory.
  if ((await users.pushChanges(key.appId, key.localId)).written) progress.requests.write++;
  return {
    ...planned,
    state: 'done',
    remoteId: linked.remoteId,
    detail: `${planned.detail}; adopted after 409`,
  };
}

async function updateUser(
  pass: RepairPass,
  planned: ReconciliationItem,
  desired: ScimUserPayload | undefined,
): Promise<ReconciliationItem> {
  const { services, view } = pass;
  const remote = planned.remote as ScimUser;
  if (!desired) return noted(planned, 'skipped', 'left the scope meanwhile');
  const localId = planned.localId as string;
  const lastPushed = view.userLinks.get(localId)?.lastPushed ?? {};
  const diff = { written: lastPushed, appManaged: view.appManaged.get(localId) };
  const operations = userPatchOperations(remote, desired, view.rules, diff);
  if (operations.length === 0) return noted(planned, 'unchanged');
  const write = () => writeUser(pass, localId, remote, operations, desired, diff);
  if ((await unlessGone(write)) === 'gone') {
    // Deleted in the app since the page was read: create it anew.
    const detail = 're-create: gone from the app';
    return createUser(pass, { ...planned, action: 'create', remote: null, detail }, desired);
  }
  const written = replacementUser(lastPushed, desired, view.rules, diff);
  await services.links.synced(userKey(view.app.id, localId), remote.id, written);
  return { ...planned, state: 'done', detail: operations.map((operation) => operation.path).join(', ') };
}

async function deprovisionUser(
  { services, view, progress }: RepairPass,
  planned: ReconciliationItem,
  desired: ScimUserPayload | undefined,
): Promise<ReconciliationItem> {
  const { app } = view;
  const userId = planned.localId as string;
  if (desired) return noted(planned, 'skipped', 'back in scope meanwhile');
  progress.requests.write++;
  if (app.deprovisionMode === 'delete') {
    await services.users.delete(app.id, userId);
    return { ...planned, state: 'done', detail: 'deleted' };
  }
  const { gone } = await services.users.deactivate(app.id, userId, { asFound: planned.remote as ScimUser });
  if (gone) return noted(planned, 'unchanged', 'gone from the app meanwhile');
  return { ...planned, state: 'done', detail: 'deactivated' };
}

/**
 * The user as the page showed it, with the managed attributes set: only the differences, or a PUT of it. What the
 * app then holds — its answer, or a read when it answered without the user — shows which written values it did
 * not keep: those are recorded as app-managed, so the next run does not write them again.
 */
async function writeUser(
  { view, progress, services }: RepairPass,
  userId: string,
  remote: ScimUser,
  operations: PatchOperation[],
  desired: ScimUserPayload,
  diff: DiffOptions,
): Promise<void> {
  progress.requests.write++;
  const replacementOf = (current: Record<string, unknown>) =>
    replacementUser(current, desired, view.rules, diff);
  let answer = await updateRemoteUser(view.target, remote.id, operations, replacementOf, remote);
  if (!answer) {
    progress.requests.read++;
    answer = await view.target.client.getUser(remote.id);
  }
  const paths = operations.map((operation) => operation.path as string);
  await services.users.noteAppManaged(view.target, userId, answer, desired, paths);
}
