/**
 * The vocabulary shared by the API (which issues intents), the lanes (which order them) and the intent
 * workflows (which carry them out). Inputs carry ids only: never credentials, never whole records.
 */
export const userIntents = ['provisionUser', 'updateUser', 'deprovisionUser'] as const;
export const groupIntents = ['createGroup', 'updateGroup', 'deleteGroup', 'syncGroupMembership'] as const;
export const intentNames = [...userIntents, ...groupIntents] as const;

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

export type IntentRequest =
  | { intent: UserIntentName; input: UserIntentInput; summary: string }
  | { intent: GroupIntentName; input: GroupIntentInput; summary: string };

export type QueuedIntent = IntentRequest & { workflowId: string };

export interface IntentResult {
  outcome: 'written' | 'unchanged' | 'skipped';
  detail: string;
}

export function resourceOf(request: IntentRequest): { resourceType: 'User' | 'Group'; resourceId: string } {
  return 'userId' in request.input
    ? { resourceType: 'User', resourceId: request.input.userId }
    : { resourceType: 'Group', resourceId: request.input.groupId };
}

export const written = (detail: string): IntentResult => ({ outcome: 'written', detail });
export const unchanged = (detail: string): IntentResult => ({ outcome: 'unchanged', detail });
export const skipped = (detail: string): IntentResult => ({ outcome: 'skipped', detail });
