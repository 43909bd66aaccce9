import type { DirectoryUser } from '../directory/model';
import { SCIM_SCHEMAS, type ScimGroupPayload, type ScimUserPayload } from '../scim/schemas';

/**
 * How a directory record becomes a SCIM resource: decided here and nowhere else.
 * `externalId` carries the directory id, so a target (and a later lookup by externalId) can tell which
 * directory record an object belongs to.
 */
export function desiredScimUser(
  user: DirectoryUser,
  related: {
    managerRemoteId?: string;
    /** Role names, when the app receives roles (its `roles` switch); left out otherwise. */
    roles?: string[];
    /** Permission keys, when the app receives entitlements (its `permissions` switch); left out otherwise. */
    entitlements?: string[];
  } = {},
): ScimUserPayload {
  const enterprise = Object.fromEntries(
    Object.entries({
      employeeNumber: user.employeeNumber,
      department: user.department,
      manager: related.managerRemoteId ? { value: related.managerRemoteId } : undefined,
    }).filter(([, value]) => value !== undefined),
  );
  const payload: ScimUserPayload = {
    schemas: Object.keys(enterprise).length
      ? [SCIM_SCHEMAS.user, SCIM_SCHEMAS.enterpriseUser]
      : [SCIM_SCHEMAS.user],
    userName: user.userName,
    externalId: user.id,
    active: user.active,
  };
  if (user.name && Object.values(user.name).some(Boolean)) payload.name = user.name;
  if (user.displayName) payload.displayName = user.displayName;
  if (user.title) payload.title = user.title;
  if (user.emails?.length) payload.emails = user.emails;
  if (user.phoneNumbers?.length) payload.phoneNumbers = user.phoneNumbers;
  if (Object.keys(enterprise).length) payload[SCIM_SCHEMAS.enterpriseUser] = enterprise;
  if (related.roles) payload.roles = related.roles.map((value) => ({ value }));
  if (related.entitlements) payload.entitlements = related.entitlements.map((value) => ({ value }));
  return payload;
}

export function desiredScimGroup(group: { id: string; displayName: string }): ScimGroupPayload {
  // Groups are created empty; members follow in batched PATCHes once each member has a remote id.
  return { schemas: [SCIM_SCHEMAS.group], displayName: group.displayName, externalId: group.id, members: [] };
}

/** The SCIM filter attribute and value that find this user on the target, per the app's match setting. */
export function userMatch(
  matchAttribute: 'userName' | 'externalId' | 'email',
  user: Pick<DirectoryUser, 'id' | 'userName' | 'emails'>,
): { attribute: string; value: string } | null {
  switch (matchAttribute) {
    case 'userName':
      return { attribute: 'userName', value: user.userName };
    case 'externalId':
      return { attribute: 'externalId', value: user.id };
    case 'email': {
      const email = user.emails?.find((e) => e.primary)?.value ?? user.emails?.[0]?.value;
      return email ? { attribute: 'emails.value', value: email } : null;
    }
  }
}
