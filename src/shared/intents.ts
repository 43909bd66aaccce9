/**
 * The vocabulary shared by the API (which issues intents), the lanes (which order them) and the intent
 * workflows (which carry them out). Inputs carry ids only: never credentials, never whole records.
 */
export const userIntents = ['provisionUser', 'updateUser', 'deprovisionUser'] as const;
export const groupIntents = ['createGroup', 'updateGroup', 'deleteGroup', 'syncGroupMembership'] as const;
export const intentNames = [
  ...userIntents,
  ...groupIntents,
  'syncRoleEntitlements',
  'importFromApp',
] as const;

export type UserIntentName = (typeof userIntents)[number];
export type GroupIntentName = (typeof groupIntents)[number];
export type IntentName = (typeof intentNames)[number];

export type DeprovisionReason =
  'user-deleted' | 'user-deactivated' | 'removed-from-group' | 'group-unassigned' | 'group-deleted';

export interface UserIntentInput {
  appId: string;
  userId: string;
  reason?: DeprovisionReason;
}

export interface GroupIntentInput {
  appId: string;
  groupId: string;
}

/**
 * Which users a role change may affect in one app: members of these groups, holders of these roles, or every
 * user the app holds (after its assigned permissions changed).
 */
export interface EntitlementsIntentInput {
  appId: string;
  roleIds?: string[];
  groupIds?: string[];
  allUsers?: boolean;
}

/** What an import from the app brings into the directory (`POST /api/apps/:id/import`). */
export interface ImportIntentInput {
  appId: string;
  users?: boolean;
  groups?: boolean;
  memberships?: boolean;
}

/** What a reconciliation run of one app is asked to do (scheduled, or `POST /api/apps/:id/reconcile`). */
export interface ReconcileInput {
  appId: string;
  /** Compare and report only: no write reaches the app. */
  dryRun?: boolean;
  /** Proceed even when the run would deprovision more users than the app's deletion threshold. */
  confirmDeletions?: boolean;
}

export type IntentRequest =
  | { intent: UserIntentName; input: UserIntentInput; summary: string }
  | { intent: GroupIntentName; input: GroupIntentInput; summary: string }
  | { intent: 'syncRoleEntitlements'; input: EntitlementsIntentInput; summary: string }
  | { intent: 'importFromApp'; input: ImportIntentInput; summary: string };

export type QueuedIntent = IntentRequest & { workflowId: string };

export interface IntentResult {
  outcome: 'written' | 'unchanged' | 'skipped';
  detail: string;
}

/**
 * The resource an intent is about, which names its lane. Role and entitlement syncs of one app share one lane,
 * so changes that arrive together are applied one after the other.
 */
export function resourceOf(request: IntentRequest): {
  resourceType: 'User' | 'Group' | 'Roles' | 'App';
  resourceId: string;
} {
  // Imports of one app share a lane, so two never run at once.
  if (request.intent === 'importFromApp') return { resourceType: 'App', resourceId: request.input.appId };
  if ('userId' in request.input) return { resourceType: 'User', resourceId: request.input.userId };
  if ('groupId' in request.input) return { resourceType: 'Group', resourceId: request.input.groupId };
  return { resourceType: 'Roles', resourceId: 'roles' };
}

/** The lane an intent runs on: one per (app, resource), so intents for one object run one at a time, in order. */
export function laneIdOf(request: IntentRequest): string {
  const { resourceType, resourceId } = resourceOf(request);
  return `lane:${request.input.appId}:${resourceType}:${resourceId}`;
}

/** An intent's workflow id, readable in the Temporal UI: `provisionUser:<app>:<user>:<outbox number>`. */
export function intentWorkflowId(request: IntentRequest, sequence: number): string {
  return `${request.intent}:${request.input.appId}:${resourceOf(request).resourceId}:${sequence}`;
}

export const written = (detail: string): IntentResult => ({ outcome: 'written', detail });
export const unchanged = (detail: string): IntentResult => ({ outcome: 'unchanged', detail });
export const skipped = (detail: string): IntentResult => ({ outcome: 'skipped', detail });

/** An intent as recorded in the outbox: `queued` until it is handed to its lane, then `delivered`. */
export interface DispatchedIntent {
  workflowId: string;
  appId: string;
  intent: IntentName;
  status: 'queued' | 'delivered';
}

/** An intent recorded in the outbox, as it is handed to its lane. */
export interface RecordedIntent {
  sequence: number;
  workflowId: string;
  appId: string;
  intent: string;
  resourceType: string;
  resourceId: string;
  laneId: string;
  request: unknown;
}

/**
 * Starts work: intents recorded in the directory's outbox are handed to their lanes. The narrow view that
 * activities and the API depend on, whatever delivers the intents.
 */
export interface IntentDispatcher {
  /** Records the intents in the outbox (a transaction of their own), then hands them over. */
  dispatch(requests: IntentRequest[]): Promise<DispatchedIntent[]>;
  /**
   * Hands over intents recorded with the change that issued them (after its commit): a few at once, before
   * answering; many in the background, so that the caller answers as soon as they are safely recorded.
   */
  handOver(recorded: RecordedIntent[]): Promise<DispatchedIntent[]>;
}
