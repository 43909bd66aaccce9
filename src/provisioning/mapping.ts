import { nameKey } from '../directory/names';
import { type DirectoryUser, type UserAttributes, userAttributesSchema } from '../directory/model';
import { SCIM_SCHEMAS, type ScimGroupPayload, type ScimUser, type ScimUserPayload } from '../scim/schemas';

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

/**
 * The app's match attribute as a comparable key: userName compares as the directory's own names do (`nameKey`:
 * normalized, case-folded), e-mail ignores case (targets lowercase e-mails), externalId is exact. Used to pair
 * remote users with directory users in bulk, the way `userMatch` finds one user with a filter.
 */
function matchKey(matchAttribute: 'userName' | 'externalId' | 'email', value: string): string {
  if (matchAttribute === 'externalId') return value;
  return matchAttribute === 'userName' ? nameKey(value) : value.trim().toLowerCase();
}

/** The key of a directory user under the app's match attribute; null when it has none (no e-mail). */
export function directoryMatchKey(
  matchAttribute: 'userName' | 'externalId' | 'email',
  user: Pick<DirectoryUser, 'id' | 'userName' | 'emails'>,
): string | null {
  const match = userMatch(matchAttribute, user);
  return match ? matchKey(matchAttribute, match.value) : null;
}

/** The keys a remote user offers under the app's match attribute (any of its e-mails for `email`). */
export function remoteMatchKeys(
  matchAttribute: 'userName' | 'externalId' | 'email',
  remote: Pick<ScimUser, 'userName' | 'externalId' | 'emails'>,
): string[] {
  switch (matchAttribute) {
    case 'userName':
      return [matchKey(matchAttribute, remote.userName)];
    case 'externalId':
      return remote.externalId ? [remote.externalId] : [];
    case 'email':
      return (remote.emails ?? []).flatMap((email) =>
        email.value ? [matchKey(matchAttribute, email.value)] : [],
      );
  }
}

const multiValuedFields = (value: unknown) =>
  Array.isArray(value)
    ? value
        .filter((item) => item && typeof item === 'object' && typeof item.value === 'string' && item.value)
        .map((item: Record<string, unknown>) => ({
          value: item.value as string,
          ...(typeof item.type === 'string' && item.type ? { type: item.type } : {}),
          ...(item.primary === true ? { primary: true } : {}),
        }))
    : undefined;

const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * A remote user as a directory record, for an import from the app: the inverse of `desiredScimUser`, so that
 * the imported record maps back to what the app holds. Attributes the directory cannot hold (an invalid e-mail,
 * a manager, which is a remote id) are left out. Throws when even the userName is unusable.
 */
export function directoryUserFromScim(remote: ScimUser): UserAttributes {
  const enterprise = (remote[SCIM_SCHEMAS.enterpriseUser] ?? {}) as Record<string, unknown>;
  const name = (remote.name ?? {}) as Record<string, unknown>;
  const candidate: Record<string, unknown> = {
    userName: remote.userName,
    name: Object.fromEntries(
      ['givenName', 'familyName', 'formatted'].flatMap((key) => (text(name[key]) ? [[key, name[key]]] : [])),
    ),
    displayName: text(remote.displayName),
    emails: multiValuedFields(remote.emails),
    phoneNumbers: multiValuedFields(remote.phoneNumbers),
    title: text(remote.title),
    active:
      typeof remote.active === 'string' ? remote.active.toLowerCase() === 'true' : remote.active !== false,
    employeeNumber: text(enterprise.employeeNumber),
    department: text(enterprise.department),
  };
  if (Object.keys(candidate.name as object).length === 0) delete candidate.name;
  for (const [key, value] of Object.entries(candidate)) {
    if (value === undefined || (Array.isArray(value) && value.length === 0)) delete candidate[key];
  }
  // Drop what the directory's schema refuses, field by field, rather than the whole user.
  for (let attempt = 0; attempt < 10; attempt++) {
    const parsed = userAttributesSchema.safeParse(candidate);
    if (parsed.success) return parsed.data;
    const fields = new Set(parsed.error.issues.map((issue) => String(issue.path[0] ?? '')));
    if (fields.has('userName') || fields.has('')) {
      throw new Error(`userName ${JSON.stringify(remote.userName)} cannot be imported`);
    }
    for (const field of fields) delete candidate[field];
  }
  throw new Error(`user ${remote.userName} cannot be imported`);
}
