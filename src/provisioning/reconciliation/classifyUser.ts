import type { RemoteLink } from '../../directory/model';
import type { ReconciliationItem } from '../../directory/store';
import { userPatchOperations } from '../../scim/diff';
import type { ScimUser } from '../../scim/schemas';
import { remoteMatchKeys } from '../mapping';
import { deferredDetail, item } from './items';
import type { BusyResources, Progress } from './types';
import type { DirectoryView } from './view';

const isDeactivated = (remote: Record<string, unknown>) => String(remote.active).toLowerCase() === 'false';

/**
 * What one user of the app needs, compared with the directory user it is linked to (or, unlinked, the in-scope
 * user offering the same match key, who adopts it): what the app really holds is compared, not what was last
 * written, so a hand edit is seen. A user no directory record claims is `unmanaged`, and never touched.
 */
export function classifyUser(
  view: DirectoryView,
  remote: ScimUser,
  claimed: Set<string>,
  busy: BusyResources,
  progress: Progress,
): ReconciliationItem {
  const { app } = view;
  let localId = view.userByRemoteId.get(remote.id);
  const adopted = !localId;
  if (!localId) {
    localId = remoteMatchKeys(app.userMatchAttribute, remote)
      .map((key) => view.unlinkedUsersByKey.get(key))
      .find((candidate) => candidate !== undefined && !claimed.has(candidate));
    if (!localId)
      return item('User', remote.id, { remoteId: remote.id, name: remote.userName, action: 'unmanaged' });
  }
  claimed.add(localId);
  progress.tally.appUsers++;
  const desired = view.desired.get(localId);
  const base = { localId, remoteId: remote.id, name: desired?.userName ?? remote.userName };
  if (busy.users.has(localId))
    return item('User', remote.id, { ...base, action: 'deferred', detail: deferredDetail });
  if (desired) {
    // Every managed difference is reported; only those the app's switches allow are written. What scimflow never
    // wrote is never removed (an adopted user: nothing yet), nor is a value the app keeps its own way.
    const diff = {
      written: adopted ? {} : (view.userLinks.get(localId)?.lastPushed ?? {}),
      appManaged: view.appManaged.get(localId),
    };
    const everything = { ...view.rules, selection: { ...view.rules.selection, core: true } };
    const differs = userPatchOperations(remote, desired, everything, diff).map((o) => o.path);
    const writable = userPatchOperations(remote, desired, view.rules, diff).map((o) => o.path);
    const unwritten = differs.filter((path) => !writable.includes(path));
    if (adopted) {
      // Found by the app's match attribute, as provisionUser would: link it instead of creating a duplicate.
      if (!app.provisioning.createUsers)
        return item('User', remote.id, { ...base, action: 'skipped', detail: 'adopt: createUsers is off' });
      const detail = `adopt${writable.length ? `; differs: ${writable.join(', ')}` : ''}`;
      return item('User', remote.id, { ...base, action: 'create', detail, remote });
    }
    const link = view.userLinks.get(localId) as RemoteLink;
    if (differs.length === 0) {
      // The app matches; the link only catches up when it remembers something else.
      const stale =
        link.status !== 'synced' ||
        userPatchOperations(link.lastPushed ?? {}, desired, view.rules, diff).length > 0;
      return item('User', remote.id, { ...base, action: 'unchanged', state: stale ? 'planned' : 'noted' });
    }
    if (writable.length === 0) {
      const detail = `differs: ${unwritten.join(', ')}; updateUsers is off`;
      return item('User', remote.id, { ...base, action: 'skipped', detail });
    }
    const detail =
      writable.join(', ') + (unwritten.length ? ` (not ${unwritten.join(', ')}: updateUsers is off)` : '');
    return item('User', remote.id, { ...base, action: 'update', detail, remote });
  }
  const link = view.userLinks.get(localId) as RemoteLink;
  if (link.status === 'imported') {
    const detail = 'linked by an import; in no assigned group';
    return item('User', remote.id, { ...base, action: 'imported', detail });
  }
  if (app.deprovisionMode === 'deactivate' && isDeactivated(remote)) {
    const state = link.status === 'deprovisioned' ? 'noted' : 'planned';
    return item('User', remote.id, {
      ...base,
      action: 'unchanged',
      state,
      detail: 'out of scope, deactivated',
    });
  }
  if (!app.provisioning.deleteUsers) {
    const detail = 'out of scope; deleteUsers is off';
    return item('User', remote.id, { ...base, action: 'skipped', detail });
  }
  progress.tally.wouldDeprovision++;
  return item('User', remote.id, { ...base, action: 'deprovision', detail: app.deprovisionMode, remote });
}
