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
/** Results one list page may hold, and the page size when `count` is absent (option `maxPageSize` changes it). */
export const AWS_MAX_PAGE_SIZE = 100;

export interface AwsOptions {
  /**
   * Results per list page, at most and by default. ListUsers/ListGroups: "A maximum of 100 results can be
   * returned per page"; `count` "Valid Range: Minimum value of 1. Maximum value of 100. Default: 100"
   * (listusers.html, listgroups.html; older revisions said "Only a maximum of 50 results can be returned").
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

// ---------------------------------------------------------------------------------------------------------
// List paging, as ListUsers and ListGroups document it. ListUsers: "Not supported: startIndex, attributes, and
//   excludedAttributes (despite being listed in the SCIM protocol)" (ListGroups' "Not supported" names only the
//   empty member list, but documents the same cursor/count parameters; the emulator ignores startIndex there too). Both:
//   query parameters `cursor` — "Including the cursor parameter changes the default response format from
//   non-paginated (with totalResults, startIndex, and itemsPerPage fields) to cursor-based paginated results (with
//   itemsPerPage and nextCursor fields)", "The first request made with cursor must be empty (eg.
//   https://.../Users?cursor)", "If the response includes a nextCursor field, its value can be used as the cursor
//   value to retrieve the next page of results" — and `count` (1–100, default 100).
// https://docs.aws.amazon.com/singlesignon/latest/developerguide/listusers.html
// https://docs.aws.amazon.com/singlesignon/latest/developerguide/listgroups.html
// That is RFC 9865 (Cursor-Based Pagination of SCIM Resources, co-authored by AWS): `nextCursor` is omitted only on
// the last page, and a bad cursor is a 400 with scimType "invalidCursor" (RFC 9865 §2.1, Table 3).
// https://www.rfc-editor.org/rfc/rfc9865
//
// startIndex is ignored, not refused: a client paging by startIndex gets the first page again and again.

/** Whether the request lists Users or Groups (GET on the collection, with or without a filter). */
function lists(request: EmulatedRequest): boolean {
  return request.method === 'GET' && request.resourceType !== undefined && !request.id;
}

const CURSOR_PREFIX = 'offset:';

/**
 * An opaque cursor for the page starting at `offset` (0-based): base64url without padding, so it is made of RFC
 * 3986 unreserved characters (RFC 9865 §2) and matches AWS's documented pattern [-a-zA-Z0-9+=/:_]*.
 */
export function awsCursor(offset: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${offset}`, 'utf8').toString('base64url');
}

/** The offset a cursor stands for: 0 for the empty cursor (the first page), undefined when it is not ours. */
function cursorOffset(cursor: string): number | undefined {
  if (cursor === '') return 0;
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = new RegExp(`^${CURSOR_PREFIX}(0|[1-9][0-9]{0,8})$`).exec(decoded);
  if (!match) return undefined;
  const offset = Number(match[1]);
  // Only the spelling we hand out: base64url decoding is lenient about trailing bits.
  return awsCursor(offset) === cursor ? offset : undefined;
}

// RFC 9865 §2.1: invalidCursor — "Cursor value is invalid. Cursor value SHOULD be empty to request the first page
// and set to the nextCursor or previousCursor value for subsequent queries."
const onlyCursorsItGaveOut: Rule = (request) => {
  if (!lists(request)) return undefined;
  const { cursor } = request.query;
  if (cursor === undefined || cursorOffset(cursor) !== undefined) return undefined;
  return refusal(
    400,
    `${APP} lists with an empty cursor or a nextCursor it answered; "${cursor}" is neither`,
    'invalidCursor',
  );
};

/** The page size: `count` cut to the maximum (AWS documents no 400 for a larger one), the maximum without it. */
function pageSize(query: Record<string, string>, maxPageSize: number): number {
  const asked = query.count === undefined || query.count === '' ? NaN : Number(query.count);
  if (!Number.isFinite(asked)) return maxPageSize;
  return Math.max(0, Math.min(Math.floor(asked), maxPageSize));
}

async function list(request: EmulatedRequest, app: AppBackend, maxPageSize: number): Promise<Reply> {
  const count = pageSize(request.query, maxPageSize);
  const query: Record<string, string> = { ...request.query, count: String(count) };
  // startIndex is not supported (ignored); cursor is the app's own, not the protocol engine's.
  delete query.startIndex;
  delete query.cursor;
  const cursor = request.query.cursor;
  const offset = cursor === undefined ? 0 : (cursorOffset(cursor) ?? 0);
  if (offset > 0) query.startIndex = String(offset + 1);
  const reply = await app.forward({ ...request, query });
  if (reply.status !== 200 || !isObject(reply.body) || !Array.isArray(reply.body.Resources)) return reply;

  // "GetGroup and ListGroups return an empty member list." (listgroups.html)
  const resources =
    request.resourceType === 'Groups' ? reply.body.Resources.map(withoutMembers) : reply.body.Resources;
  if (cursor === undefined) {
    // Non-paginated: the first `count` results, with totalResults, startIndex and itemsPerPage.
    return {
      ...reply,
      body: { ...reply.body, startIndex: 1, itemsPerPage: resources.length, Resources: resources },
    };
  }
  // Cursor-paginated: itemsPerPage and nextCursor (omitted on the last page), no startIndex.
  const total = Number(reply.body.totalResults);
  const next = offset + resources.length;
  const body: PlainObject = {
    schemas: reply.body.schemas,
    itemsPerPage: resources.length,
    Resources: resources,
  };
  if (resources.length > 0 && next < total) body.nextCursor = awsCursor(next);
  return { ...reply, body };
}

async function handle(request: EmulatedRequest, app: AppBackend, maxPageSize: number): Promise<Reply> {
  if (lists(request)) return list(request, app, maxPageSize);
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
      onlyCursorsItGaveOut,
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
