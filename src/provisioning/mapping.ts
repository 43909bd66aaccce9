import { nameKey } from '../directory/names';
import { type DirectoryUser, type UserAttributes, userAttributesSchema } from '../directory/model';
import type { AttributeMapping, DirectorySource } from '../directory/targetSettings';
import { extensionSchemaOf, pathKeys } from '../scim/diff';
import { profiles } from './profiles';
import { SCIM_SCHEMAS, type ScimGroupPayload, type ScimUser, type ScimUserPayload } from '../scim/schemas';

/** RFC 7643 §4.1.2's canonical `type`s of e-mails and phone numbers: sent in their canonical (lower) case. */
const CANONICAL_TYPES = new Set(['work', 'home', 'other', 'mobile', 'fax', 'pager']);

function canonicalTypes<T extends { type?: string }>(values: T[] | undefined): T[] | undefined {
  return values?.map((value) =>
    value.type && CANONICAL_TYPES.has(value.type.toLowerCase())
      ? { ...value, type: value.type.toLowerCase() }
      : value,
  );
}

/** The value a directory source gives for one user; undefined when the user has none. */
function sourceValue(
  user: DirectoryUser,
  source: DirectorySource,
  managerRemoteId: string | undefined,
): unknown {
  const primaryOf = (values: { value: string; type?: string; primary?: boolean }[] | undefined) => {
    const primary = values?.find((value) => value.primary) ?? values?.[0];
    return primary ? canonicalTypes([{ ...primary, primary: true }]) : undefined;
  };
  switch (source) {
    case 'givenName':
      return user.name?.givenName;
    case 'familyName':
      return user.name?.familyName;
    case 'formattedName':
      return user.name?.formatted;
    case 'emails':
      return user.emails?.length ? canonicalTypes(user.emails) : undefined;
    case 'primaryEmail':
      return primaryOf(user.emails);
    case 'phoneNumbers':
      return user.phoneNumbers?.length ? canonicalTypes(user.phoneNumbers) : undefined;
    case 'primaryPhoneNumber':
      return primaryOf(user.phoneNumbers);
    case 'manager':
      return managerRemoteId ? { value: managerRemoteId } : undefined;
    case 'displayNameOrName': {
      const parts = [user.name?.givenName, user.name?.familyName].filter(Boolean).join(' ');
      return user.displayName || user.name?.formatted || parts || user.userName;
    }
    default:
      return user[source];
  }
}

function setPath(resource: Record<string, unknown>, path: string, value: unknown): void {
  const keys = pathKeys(path);
  let parent = resource;
  for (const key of keys.slice(0, -1)) {
    parent[key] = (parent[key] as Record<string, unknown> | undefined) ?? {};
    parent = parent[key] as Record<string, unknown>;
  }
  parent[keys.at(-1) as string] = value;
}

/**
 * How a directory record becomes a SCIM resource: decided here and nowhere else, by the app's attribute mapping
 * (SCIM path → directory source; its profile's by default, see profiles.ts). `externalId` carries the directory
 * id, so a target (and a later lookup by externalId) can tell which directory record an object belongs to.
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
  mapping: AttributeMapping = profiles.generic.mapping,
): ScimUserPayload {
  const payload: ScimUserPayload = {
    schemas: [SCIM_SCHEMAS.user],
    userName: user.userName,
    externalId: user.id,
  };
  const extensions = new Set<string>();
  for (const [path, source] of Object.entries(mapping)) {
    if (!source || path === 'userName' || path === 'externalId') continue;
    const value = sourceValue(user, source, related.managerRemoteId);
    if (value === undefined || value === '') continue;
    setPath(payload, path, value);
    const extension = extensionSchemaOf(path);
    if (extension) extensions.add(extension);
  }
  payload.schemas.push(...[...extensions].sort());
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
