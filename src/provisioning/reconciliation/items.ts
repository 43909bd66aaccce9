import type { ResourceType } from '../../directory/model';
import type {
  DirectoryStore,
  ReconciliationAction,
  ReconciliationItem,
  ReconciliationItemFilter,
} from '../../directory/store';
import type { CreationInProgressError } from '../errors';

/*
 * A run's working set: one item per object of the app (keyed by its remote id), per directory record the app
 * lacks (`local:<id>`), and per member to add or remove (`members:<group id>:<remote user id>`), each with its
 * action and state. Items live in the store, so nothing of the app is held in memory between pages.
 */

/** Actions that write nothing: their items are only noted. */
const passiveActions: ReconciliationAction[] = ['unchanged', 'unmanaged', 'deferred', 'skipped', 'imported'];

export const localKey = (localId: string) => `local:${localId}`;
export const isLocalKey = (key: string) => key.startsWith('local:');
export const membersKeyPrefix = (groupId: string) => `members:${groupId}:`;
export const isMembershipKey = (key: string) => key.startsWith('members:');

/** What a group's item remembers of the app's group: its name and its member ids as seen, then as written. */
export type GroupSnapshot = {
  displayName: string | null;
  members: string[];
};

export const deferredDetail = 'an intent for it is queued or running';

export function item(
  resourceType: ResourceType,
  key: string,
  fields: Partial<ReconciliationItem> & { name: string; action: ReconciliationAction },
): ReconciliationItem {
  return {
    resourceType,
    key,
    localId: null,
    remoteId: null,
    state: passiveActions.includes(fields.action) ? 'noted' : 'planned',
    detail: null,
    error: null,
    remote: null,
    ...fields,
  };
}

/** A run's items matching `filter`, in key order, a thousand at a time from the store. */
export async function* runItems(
  store: DirectoryStore,
  workflowId: string,
  filter: Omit<ReconciliationItemFilter, 'limit'>,
): AsyncGenerator<ReconciliationItem> {
  for (const resourceType of filter.resourceType ? [filter.resourceType] : (['Group', 'User'] as const)) {
    let afterKey = filter.afterKey ?? '';
    for (;;) {
      const page = await store.reconciliationItems(workflowId, {
        ...filter,
        resourceType,
        afterKey,
        limit: 1000,
      });
      yield* page;
      if (page.length < 1000) break;
      afterKey = page[page.length - 1].key;
    }
  }
}

/** A planned repair that needs no write after all (the object changed meanwhile): noted as `action`. */
export function noted(
  planned: ReconciliationItem,
  action: ReconciliationAction,
  detail?: string,
): ReconciliationItem {
  return { ...planned, action, state: 'noted', ...(detail === undefined ? {} : { detail }) };
}

/** A planned repair whose object's lane got busy: left to the intent at work on it. */
export const deferred = (planned: ReconciliationItem) =>
  noted(planned, 'deferred', `${planned.action}: ${deferredDetail}`);

/**
 * A creation another path holds the claim of (an intent, a group's bulk provisioning): left to it, as it will
 * have linked the object by the next run, or the next run creates it.
 */
export const deferredToCreator = (planned: ReconciliationItem, busy: CreationInProgressError) =>
  noted(
    planned,
    'deferred',
    `${planned.action}: being created by ${busy.holder.claimant} (claimed until ${busy.holder.expiresAt})`,
  );
