/**
 * AWS IAM Identity Center's SCIM endpoint, as its developer guide documents it
 * (https://docs.aws.amazon.com/singlesignon/latest/developerguide/, one page per operation, cited per rule).
 * Errors are `ValidationException` (HTTP 400) on every page.
 */
import {
  isObject,
  onlyEqualityFilters,
  patchOperations,
  pathAttribute,
  refusal,
  sameName,
  writes,
  writtenAttributes,
  type AppBackend,
  type Emulation,
  type EmulatedRequest,
  type PlainObject,
  type Reply,
  type Rule,
} from './core';

const APP = 'AWS IAM Identity Center';

/** Members one PATCH /Groups may change, and one POST /Groups may carry. */
export const AWS_MAX_MEMBERSHIP_CHANGES = 100;
/** Results one list page may hold (option `maxPageSize` changes it). */
export const AWS_MAX_PAGE_SIZE = 50;

export interface AwsOptions {
  /**
   * Results per list page. The guide's ListUsers/ListGroups pages said "only a maximum of 50 results can be
   * returned" (listgroups.html); its newer revision says 100 per page, with cursor paging.
   */
  maxPageSize?: number;
}

function memberValues(value: unknown): number {
  if (Array.isArray(value)) return value.length;
  return value === undefined ? 0 : 1;
}

/** How many membership changes a PATCH /Groups makes: every member value added, removed or replaced. */
export function membershipChanges(body: unknown): number {
  let changes = 0;
  for (const operation of patchOperations(body)) {
    if (operation.path) {
      if (!sameName(pathAttribute(operation.path), 'members')) continue;
      // `members[value eq "id"]` removes one member.
      changes += operation.path.includes('[') ? 1 : memberValues(operation.value);
    } else if (isObject(operation.value)) {
      const members = Object.entries(operation.value).find(([key]) => sameName(key, 'members'));
      if (members) changes += memberValues(members[1]);
    }
  }
  return changes;
}

// PatchGroup — "A maximum of 100 membership changes are allowed in a single request."
// https://docs.aws.amazon.com/singlesignon/latest/developerguide/patchgroup.html
const atMost100MembershipChangesPerPatch: Rule = (request) => {
  if (!writes(request, 'Groups', 'PATCH')) return undefined;
  const changes = membershipChanges(request.body);
  return changes > AWS_MAX_MEMBERSHIP_CHANGES
    ? refusal(
        400,
        `${APP} allows at most ${AWS_MAX_MEMBERSHIP_CHANGES} membership changes in one PATCH /Groups (got ${changes})`,
        'invalidValue',
      )
    : undefined;
};

// CreateGroup — "A maximum of 100 members can be added in a single request."
// https://docs.aws.amazon.com/singlesignon/latest/developerguide/creategroup.html
const atMost100MembersOnCreate: Rule = (request) => {
  if (!writes(request, 'Groups', 'POST') || !isObject(request.body)) return undefined;
  const members = memberValues(request.body.members);
  return members > AWS_MAX_MEMBERSHIP_CHANGES
    ? refusal(
        400,
        `${APP} allows at most ${AWS_MAX_MEMBERSHIP_CHANGES} members in one POST /Groups (got ${members})`,
        'invalidValue',
      )
    : undefined;
};

// "The PatchGroup API doesn't support remove all or replace operations" (limitations.html, Functionality
// limitations); "If you attempt to replace or remove all group memberships as part of a single request the
// result will be a ValidationException (HTTP/400)" (patchgroup.html). A path-less replace of displayName is the
// page's own example and stays allowed.
// https://docs.aws.amazon.com/singlesignon/latest/developerguide/limitations.html
const noReplaceOrRemoveAllMembers: Rule = (request) => {
  if (!writes(request, 'Groups', 'PATCH')) return undefined;
  for (const operation of patchOperations(request.body)) {
    const onMembers = operation.path
      ? sameName(operation.path, 'members')
      : isObject(operation.value) && Object.keys(operation.value).some((key) => sameName(key, 'members'));
    if (!onMembers) continue;
    if (operation.op === 'replace')
      return refusal(400, `${APP} PatchGroup does not support replacing the members`, 'invalidValue');
    if (operation.op === 'remove' && operation.value === undefined)
      return refusal(400, `${APP} PatchGroup does not support removing all members`, 'invalidValue');
  }
  return undefined;
};

// "Only eq with and is supported" (limitations.html); ListUsers: "Supported filter combinations: (userName),
// (externalId), …, (id …)" (listusers.html); ListGroups: "(displayName), (externalId), (id and member) …",
// "Supported comparison operator in filters: eq" (listgroups.html).
// https://docs.aws.amazon.com/singlesignon/latest/developerguide/listusers.html
// https://docs.aws.amazon.com/singlesignon/latest/developerguide/listgroups.html
const filters = onlyEqualityFilters(APP, {
  Users: ['userName', 'externalId', 'id'],
  Groups: ['displayName', 'externalId', 'id'],
});

// CreateUser / PatchUser — "We do not support multiple values in multi-value attributes (such as emails,
// addresses, phoneNumbers). Only single values are permitted."
// https://docs.aws.amazon.com/singlesignon/latest/developerguide/createuser.html
// https://docs.aws.amazon.com/singlesignon/latest/developerguide/patchuser.html
const SINGLE_VALUED = ['emails', 'phoneNumbers', 'addresses'];
const oneValuePerMultiValuedAttribute: Rule = (request) => {
  if (!writes(request, 'Users', 'POST', 'PUT', 'PATCH')) return undefined;
  for (const { name, value } of writtenAttributes(request)) {
    if (
      SINGLE_VALUED.some((attribute) => sameName(attribute, name)) &&
      Array.isArray(value) &&
      value.length > 1
    )
      return refusal(400, `${APP} accepts one value in ${name} (got ${value.length})`, 'invalidValue');
  }
  return undefined;
};

// CreateUser/PatchUser — "Not supported: ims, photos, x509Certificates, entitlements, and password"
// (createuser.html, patchuser.html); the Limitations page's multi-valued attribute table lists groups,
// entitlements and roles as not supported (limitations.html).
const UNSUPPORTED_USER_ATTRIBUTES = [
  'entitlements',
  'roles',
  'x509Certificates',
  'ims',
  'photos',
  'password',
];
const noUnsupportedUserAttributes: Rule = (request) => {
  if (!writes(request, 'Users', 'POST', 'PUT', 'PATCH')) return undefined;
  const unsupported = writtenAttributes(request).find(({ name }) =>
    UNSUPPORTED_USER_ATTRIBUTES.some((attribute) => sameName(attribute, name)),
  );
  return unsupported
    ? refusal(400, `${APP} does not support the ${unsupported.name} attribute`, 'invalidValue')
    : undefined;
};

// CreateUser — "The givenName, familyName, userName, and displayName fields are required."
// https://docs.aws.amazon.com/singlesignon/latest/developerguide/createuser.html
const requiredOnCreate: Rule = (request) => {
  if (!writes(request, 'Users', 'POST') || !isObject(request.body)) return undefined;
  const user = request.body;
  const name = isObject(user.name) ? user.name : {};
  const missing = [
    ['userName', user.userName],
    ['displayName', user.displayName],
    ['name.givenName', name.givenName],
    ['name.familyName', name.familyName],
  ]
    .filter(([, value]) => typeof value !== 'string' || value === '')
    .map(([attribute]) => attribute);
  return missing.length
    ? refusal(400, `${APP} requires ${missing.join(', ')} to create a user`, 'invalidValue')
    : undefined;
};

function withoutMembers(group: unknown): unknown {
  if (!isObject(group)) return group;
  const copy: PlainObject = { ...group };
  delete copy.members;
  return copy;
}

async function handle(request: EmulatedRequest, app: AppBackend, maxPageSize: number): Promise<Reply> {
  if (request.method === 'GET' && request.resourceType && !request.id) {
    // List pages hold at most maxPageSize results, whatever count asked for (listusers.html, listgroups.html).
    const asked = Number(request.query.count);
    const count = Number.isFinite(asked) && asked >= 0 ? Math.min(asked, maxPageSize) : maxPageSize;
    const reply = await app.forward({ ...request, query: { ...request.query, count: String(count) } });
    if (request.resourceType === 'Groups' && isObject(reply.body) && Array.isArray(reply.body.Resources)) {
      // "GetGroup and ListGroups return an empty member list." (listgroups.html)
      reply.body = { ...reply.body, Resources: reply.body.Resources.map(withoutMembers) };
    }
    return reply;
  }
  if (request.method === 'GET' && request.resourceType === 'Groups' && request.id) {
    // https://docs.aws.amazon.com/singlesignon/latest/developerguide/getgroup.html
    const reply = await app.forward(request);
    return reply.status === 200 ? { ...reply, body: withoutMembers(reply.body) } : reply;
  }
  if (writes(request, 'Groups', 'PATCH')) {
    // PatchGroup's example answers "HTTP/1.1 204" with no body (patchgroup.html).
    const reply = await app.forward(request);
    return reply.status === 200 ? { status: 204 } : reply;
  }
  return app.forward(request);
}

export function awsIamIdentityCenter(options: AwsOptions = {}): Emulation {
  const maxPageSize = options.maxPageSize ?? AWS_MAX_PAGE_SIZE;
  return {
    rules: [
      filters,
      atMost100MembershipChangesPerPatch,
      atMost100MembersOnCreate,
      noReplaceOrRemoveAllMembers,
      requiredOnCreate,
      oneValuePerMultiValuedAttribute,
      noUnsupportedUserAttributes,
    ],
    handle: (request, app) => handle(request, app, maxPageSize),
  };
}
