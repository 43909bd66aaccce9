/**
 * A real SCIM 2.0 service provider for integration tests to provision into.
 *
 * The protocol work — schema validation, PATCH semantics, filter parsing, list responses, SCIM error bodies —
 * is done by scimmy and scimmy-routers, somebody else's implementation, so our client is tested against
 * behaviour we did not write. This file is only the glue: an in-memory store per server instance, plus
 * drift hooks that change that store behind the client's back.
 *
 * scimmy keeps its state in module-level singletons, which shapes the glue:
 * - Declared resource types and their ingress/egress/degress handlers are global, so the handlers cannot close
 *   over a store. One SCIMMYRouters instance serves every server in the process, and its `context` hook hands
 *   the handlers the store of the express app that received the request.
 * - SCIMMY.Config (the ServiceProviderConfig) is global and SCIMMYRouters overwrites it on construction, so
 *   separate configurations per server are impossible. The global config advertises PATCH; a server started
 *   with `patch: false` rewrites `patch.supported` in its own ServiceProviderConfig response and refuses PATCH
 *   with 501, as a provider without PATCH support would.
 * - Each resource's basepath (the prefix of meta.location) is global and reset by the router on every request,
 *   so two servers answering concurrently would race for it. It is left relative ("/scim/v2/Users/…"),
 *   identical for every server, and each server makes it absolute in its own responses, from the Host header.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import express from 'express';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';

export const SCIM_BASE_PATH = '/scim/v2';
const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const SCIM_CONTENT_TYPES = ['application/scim+json', 'application/json'];

export interface ScimResourceMeta {
  resourceType: 'User' | 'Group';
  created: string;
  lastModified: string;
  location: string;
}

export interface ScimUserRecord {
  id: string;
  userName: string;
  externalId?: string;
  active?: boolean;
  schemas?: string[];
  meta: ScimResourceMeta;
  [attribute: string]: unknown;
}

export interface ScimGroupMember {
  value: string;
  display?: string;
  type?: 'User' | 'Group';
  $ref?: string;
}

export interface ScimGroupRecord {
  id: string;
  displayName: string;
  externalId?: string;
  members?: ScimGroupMember[];
  schemas?: string[];
  meta: ScimResourceMeta;
  [attribute: string]: unknown;
}

export interface UserSeed {
  /** Defaults to a random UUID, as for users created over HTTP. */
  id?: string;
  userName: string;
  [attribute: string]: unknown;
}

export interface GroupSeed {
  /** Defaults to a random UUID, as for groups created over HTTP. */
  id?: string;
  displayName: string;
  members?: ScimGroupMember[];
  [attribute: string]: unknown;
}

export interface ScimRequestRecord {
  method: string;
  /** Below the base URL, e.g. "/Users/123". */
  path: string;
  query: Record<string, unknown>;
  body: unknown;
  /** Set once the response has been sent; absent while in flight or when the client went away first. */
  status?: number;
  /** When it arrived (ms since the epoch). */
  receivedAt: number;
}

export interface ScimServerOptions {
  /** Bearer token clients must present; random by default. */
  token?: string;
  /**
   * Whether this server supports PATCH (default true). When false, ServiceProviderConfig advertises
   * `patch.supported: false` and PATCH requests are refused with 501.
   */
  patch?: boolean;
  /** Loopback port to listen on; a free one by default. */
  port?: number;
  /**
   * Whether a second user with a userName in use, or a second group with a displayName in use, is refused with
   * 409 (default true). When false the server accepts both, as some real targets do (externalId is never
   * checked), so only the client keeps one remote object per directory object.
   */
  uniqueness?: boolean;
}

export interface ScimTestServer {
  /** Base URL, e.g. http://127.0.0.1:PORT/scim/v2 */
  url: string;
  token: string;
  /** Every request received, in arrival order, including rejected ones. */
  requests: ScimRequestRecord[];
  resetRequests(): void;
  /** Snapshots (deep copies) of the store — the target's real state. */
  users(): ScimUserRecord[];
  groups(): ScimGroupRecord[];
  /** Out-of-band changes that bypass HTTP, to create drift. Validated against the SCIM schemas. */
  seedUser(user: UserSeed): ScimUserRecord;
  seedGroup(group: GroupSeed): ScimGroupRecord;
  updateUserDirectly(id: string, changes: Record<string, unknown>): ScimUserRecord;
  updateGroupDirectly(id: string, changes: Record<string, unknown>): ScimGroupRecord;
  deleteUserDirectly(id: string): void;
  deleteGroupDirectly(id: string): void;
  close(): Promise<void>;
}

type SchemaDefinition = InstanceType<typeof SCIMMY.Types.SchemaDefinition>;
type ScimmyResource = InstanceType<typeof SCIMMY.Types.Resource>;
type ScimFilter = InstanceType<typeof SCIMMY.Types.Filter>;
type PlainObject = Record<string, unknown>;

function scimError(status: number, scimType: string | null, detail: string): Error {
  // The typings demand a string scimType, but scimmy treats null as "no scimType", which SCIM requires
  // for every status other than 400, 409 and 413.
  return new SCIMMY.Types.Error(status, scimType as string, detail);
}

/**
 * Records are plain JSON. Not structuredClone: under jest it builds objects from another realm, which fail
 * scimmy's `instanceof Object` checks on handler results.
 */
function deepCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function withoutKeys(object: PlainObject, ...keys: string[]): PlainObject {
  return Object.fromEntries(Object.entries(object).filter(([key]) => !keys.includes(key)));
}

/** scimmy schema instances are frozen proxies with toJSON; the store keeps plain data, with its own id and meta. */
function toStoredAttributes(instance: unknown): PlainObject {
  return withoutKeys(JSON.parse(JSON.stringify(instance)) as PlainObject, 'id', 'meta');
}

class InMemoryDirectory {
  readonly users = new Map<string, ScimUserRecord>();
  readonly groups = new Map<string, ScimGroupRecord>();
  /** Known only once the server listens; used for meta.location and member $ref. */
  baseUrl = '';

  /** `uniqueness`: whether userName and displayName are refused (409) when in use. */
  constructor(private readonly uniqueness: boolean) {}

  getUser(id: string): ScimUserRecord {
    const user = this.users.get(id);
    if (!user) throw scimError(404, null, `Resource ${id} not found`);
    return user;
  }

  getGroup(id: string): ScimGroupRecord {
    const group = this.groups.get(id);
    if (!group) throw scimError(404, null, `Resource ${id} not found`);
    return group;
  }

  createUser(attributes: PlainObject, id: string = randomUUID()): ScimUserRecord {
    if (this.users.has(id) || this.groups.has(id))
      throw scimError(409, 'uniqueness', `id ${id} is already in use`);
    const userName = String(attributes.userName);
    this.assertUserNameAvailable(userName, id);
    const record = { ...attributes, id, userName, meta: this.newMeta('User', id) };
    this.users.set(id, record);
    return record;
  }

  replaceUser(id: string, attributes: PlainObject): ScimUserRecord {
    const existing = this.getUser(id);
    const userName = String(attributes.userName);
    this.assertUserNameAvailable(userName, id);
    const record: ScimUserRecord = { ...attributes, id, userName, meta: existing.meta };
    return this.storeIfChanged(this.users, existing, record);
  }

  deleteUser(id: string): void {
    this.getUser(id);
    this.users.delete(id);
    this.removeMemberEverywhere(id);
  }

  createGroup(attributes: PlainObject, id: string = randomUUID()): ScimGroupRecord {
    if (this.users.has(id) || this.groups.has(id))
      throw scimError(409, 'uniqueness', `id ${id} is already in use`);
    const displayName = String(attributes.displayName);
    this.assertGroupNameAvailable(displayName, id);
    const members = this.resolveMembers(attributes.members, []);
    const record: ScimGroupRecord = { ...attributes, id, displayName, meta: this.newMeta('Group', id) };
    if (members) record.members = members;
    this.groups.set(id, record);
    return record;
  }

  replaceGroup(id: string, attributes: PlainObject): ScimGroupRecord {
    const existing = this.getGroup(id);
    const displayName = String(attributes.displayName);
    this.assertGroupNameAvailable(displayName, id);
    const members = this.resolveMembers(attributes.members, existing.members ?? []);
    const record: ScimGroupRecord = { ...attributes, id, displayName, meta: existing.meta };
    if (members) record.members = members;
    else delete record.members;
    return this.storeIfChanged(this.groups, existing, record);
  }

  deleteGroup(id: string): void {
    this.getGroup(id);
    this.groups.delete(id);
    this.removeMemberEverywhere(id);
  }

  private newMeta(resourceType: 'User' | 'Group', id: string): ScimResourceMeta {
    const now = new Date().toISOString();
    const endpoint = resourceType === 'User' ? 'Users' : 'Groups';
    return { resourceType, created: now, lastModified: now, location: `${this.baseUrl}/${endpoint}/${id}` };
  }

  /** A PATCH that changes nothing still reaches ingress; it must not look like a modification. */
  private storeIfChanged<R extends ScimUserRecord | ScimGroupRecord>(
    store: Map<string, R>,
    existing: R,
    replacement: R,
  ): R {
    if (isDeepStrictEqual({ ...existing, meta: undefined }, { ...replacement, meta: undefined }))
      return existing;
    const stored = { ...replacement, meta: { ...existing.meta, lastModified: new Date().toISOString() } };
    store.set(existing.id, stored);
    return stored;
  }

  // userName has caseExact=false (RFC 7643 §4.1.1), so uniqueness ignores case.
  private assertUserNameAvailable(userName: string, ownId: string): void {
    if (!this.uniqueness) return;
    const wanted = userName.toLowerCase();
    for (const user of this.users.values()) {
      if (user.id !== ownId && user.userName.toLowerCase() === wanted) {
        throw scimError(409, 'uniqueness', `userName '${userName}' is already in use`);
      }
    }
  }

  private assertGroupNameAvailable(displayName: string, ownId: string): void {
    if (!this.uniqueness) return;
    const wanted = displayName.toLowerCase();
    for (const group of this.groups.values()) {
      if (group.id !== ownId && group.displayName.toLowerCase() === wanted) {
        throw scimError(409, 'uniqueness', `displayName '${displayName}' is already in use`);
      }
    }
  }

  /**
   * scimmy appends PATCH "add" values without de-duplicating and accepts any member value. A real provider
   * keeps one entry per member and refuses ids it does not know, so a client that sends the wrong id (an
   * externalId, a source-directory id) fails here instead of silently "succeeding". Members already present
   * are let through so that unrelated updates are not blocked by them.
   */
  private resolveMembers(input: unknown, previous: ScimGroupMember[]): ScimGroupMember[] | undefined {
    if (!Array.isArray(input) || input.length === 0) return undefined;
    const previousIds = new Set(previous.map((member) => member.value));
    const byId = new Map<string, ScimGroupMember>();
    for (const member of input as ScimGroupMember[]) {
      if (byId.has(member.value)) continue;
      const user = this.users.get(member.value);
      const group = this.groups.get(member.value);
      if (!user && !group && !previousIds.has(member.value)) {
        throw scimError(400, 'invalidValue', `Group member '${member.value}' does not exist`);
      }
      const resolved: ScimGroupMember = { ...member };
      if (user) {
        resolved.type ??= 'User';
        resolved.display ??= typeof user.displayName === 'string' ? user.displayName : user.userName;
        resolved.$ref ??= `${this.baseUrl}/Users/${user.id}`;
      } else if (group) {
        resolved.type ??= 'Group';
        resolved.display ??= group.displayName;
        resolved.$ref ??= `${this.baseUrl}/Groups/${group.id}`;
      }
      byId.set(member.value, resolved);
    }
    return [...byId.values()];
  }

  // Like most real providers, deleting a resource also ends its group memberships.
  private removeMemberEverywhere(memberId: string): void {
    for (const group of this.groups.values()) {
      if (!group.members?.some((member) => member.value === memberId)) continue;
      const members = group.members.filter((member) => member.value !== memberId);
      const updated: ScimGroupRecord = {
        ...group,
        meta: { ...group.meta, lastModified: new Date().toISOString() },
      };
      if (members.length) updated.members = members;
      else delete updated.members;
      this.groups.set(group.id, updated);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Filtering. scimmy parses filters (resource.filter) and can match them against plain objects with
// Filter#match, but that match compares strings exactly, ignoring caseExact=false (userName, emails.value,
// displayName…), and does not see enterprise extension attributes, which it parses as flat
// "urn:…:User:attr" keys while resources nest them under the extension URN. Both are bridged by matching a
// projection of each record: case-insensitive strings lowercased, extension attributes also flattened, and
// the filter's comparison values lowercased for the same attributes.

function findAttribute(
  definition: SchemaDefinition,
  path: string,
): InstanceType<typeof SCIMMY.Types.Attribute> | SchemaDefinition | undefined {
  try {
    return definition.attribute<InstanceType<typeof SCIMMY.Types.Attribute> | SchemaDefinition>(path);
  } catch {
    return undefined;
  }
}

function ignoresCase(attribute: ReturnType<typeof findAttribute>): boolean {
  return (
    attribute instanceof SCIMMY.Types.Attribute && attribute.type === 'string' && !attribute.config.caseExact
  );
}

function projectForMatching(value: unknown, definition: SchemaDefinition, path = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => projectForMatching(item, definition, path));
  if (typeof value === 'string')
    return ignoresCase(findAttribute(definition, path)) ? value.toLowerCase() : value;
  if (value === null || typeof value !== 'object') return value;

  const projection: PlainObject = {};
  for (const [key, child] of Object.entries(value)) {
    const extension = !path ? findAttribute(definition, key) : undefined;
    if (key.toLowerCase().startsWith('urn:') && extension instanceof SCIMMY.Types.SchemaDefinition) {
      const projectedExtension = projectForMatching(child, extension) as PlainObject;
      projection[key] = projectedExtension;
      for (const [attribute, attributeValue] of Object.entries(projectedExtension)) {
        projection[`${key}:${attribute}`] = attributeValue;
      }
    } else {
      projection[key] = projectForMatching(child, definition, path ? `${path}.${key}` : key);
    }
  }
  return projection;
}

function foldComparison(comparison: unknown[], attribute: ReturnType<typeof findAttribute>): unknown[] {
  const expected = comparison[comparison.length - 1];
  if (comparison.length < 2 || typeof expected !== 'string' || !ignoresCase(attribute))
    return [...comparison];
  return [...comparison.slice(0, -1), expected.toLowerCase()];
}

function foldExpression(expression: PlainObject, definition: SchemaDefinition, path = ''): PlainObject {
  const folded: PlainObject = {};
  for (const [key, condition] of Object.entries(expression)) {
    const attributePath = path ? `${path}.${key}` : key;
    const attribute = findAttribute(definition, attributePath);
    if (!Array.isArray(condition)) {
      folded[key] = foldExpression(condition as PlainObject, definition, attributePath);
    } else if (condition.every(Array.isArray)) {
      folded[key] = condition.map((comparison: unknown[]) => foldComparison(comparison, attribute));
    } else {
      folded[key] = foldComparison(condition, attribute);
    }
  }
  return folded;
}

function matchFilter<R extends object>(
  filter: ScimFilter | undefined,
  records: R[],
  definition: SchemaDefinition,
): R[] {
  if (!filter) return records;
  const folded = new SCIMMY.Types.Filter(
    filter.map((expression: PlainObject) => foldExpression(expression, definition)),
  );
  const originalOf = new Map(
    records.map((record) => [projectForMatching(record, definition), record] as const),
  );
  return folded.match([...originalOf.keys()]).map((projection) => originalOf.get(projection) as R);
}

/**
 * scimmy's ListResponse pages the full result set itself, but only slices when startIndex falls inside it:
 * past the end it returns the first page again, which would send a paging client round in circles.
 */
function guardPastTheEnd<R>(resource: ScimmyResource, matches: R[]): R[] {
  const startIndex = resource.constraints?.startIndex ?? 1;
  if (matches.length === 0 || startIndex <= matches.length) return matches;
  resource.constraints = {
    ...resource.constraints,
    totalResults: matches.length,
  } as typeof resource.constraints;
  return [];
}

// ---------------------------------------------------------------------------------------------------------
// scimmy wiring, shared by every server in the process.

interface ServerState {
  directory: InMemoryDirectory;
  token: string;
  patchSupported: boolean;
  origin: string;
  requests: ScimRequestRecord[];
}

const stateByApp = new WeakMap<express.Application, ServerState>();

function stateOfRequest(req: express.Request): ServerState {
  const state = stateByApp.get(req.app);
  if (!state) throw new Error('Request did not arrive through a test SCIM server');
  return state;
}

function directoryOf(context: unknown): InMemoryDirectory {
  const directory = (context as ServerState | undefined)?.directory;
  if (!directory) throw scimError(500, null, 'SCIM handler called without a test server context');
  return directory;
}

function hasValidToken(req: express.Request, state: ServerState): boolean {
  return req.headers.authorization === `Bearer ${state.token}`;
}

// scimmy's typings expect handlers to return its schema classes; the records here are plain data that scimmy
// coerces through those classes on the way out anyway.
type ScimmyUserData = Omit<InstanceType<typeof SCIMMY.Schemas.User>, 'schemas' | 'meta'>;
type ScimmyGroupData = Omit<InstanceType<typeof SCIMMY.Schemas.Group>, 'schemas' | 'meta'>;
const asScimmyUsers = <T>(data: T) =>
  data as unknown as T extends unknown[] ? ScimmyUserData[] : ScimmyUserData;
const asScimmyGroups = <T>(data: T) =>
  data as unknown as T extends unknown[] ? ScimmyGroupData[] : ScimmyGroupData;

function declareResourceTypes(): void {
  const userDefinition = SCIMMY.Schemas.User.definition;
  const groupDefinition = SCIMMY.Schemas.Group.definition;

  SCIMMY.Resources.declare(SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false))
    .ingress(async (resource, instance, context) => {
      const directory = directoryOf(context);
      const attributes = toStoredAttributes(instance);
      const stored = resource.id
        ? directory.replaceUser(resource.id, attributes)
        : directory.createUser(attributes);
      return asScimmyUsers(deepCopy(stored));
    })
    .egress(async (resource, context) => {
      const directory = directoryOf(context);
      if (resource.id) return asScimmyUsers(deepCopy(directory.getUser(resource.id)));
      const matches = matchFilter(resource.filter, [...directory.users.values()], userDefinition);
      return asScimmyUsers(deepCopy(guardPastTheEnd(resource, matches)));
    })
    .degress(async (resource, context) => {
      directoryOf(context).deleteUser(resource.id as string);
    });

  SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .ingress(async (resource, instance, context) => {
      const directory = directoryOf(context);
      const attributes = toStoredAttributes(instance);
      const stored = resource.id
        ? directory.replaceGroup(resource.id, attributes)
        : directory.createGroup(attributes);
      return asScimmyGroups(deepCopy(stored));
    })
    .egress(async (resource, context) => {
      const directory = directoryOf(context);
      if (resource.id) return asScimmyGroups(deepCopy(directory.getGroup(resource.id)));
      const matches = matchFilter(resource.filter, [...directory.groups.values()], groupDefinition);
      return asScimmyGroups(deepCopy(guardPastTheEnd(resource, matches)));
    })
    .degress(async (resource, context) => {
      directoryOf(context).deleteGroup(resource.id as string);
    });
}

let sharedRouter: express.Router | undefined;

function scimmyRouter(): express.Router {
  if (sharedRouter) return sharedRouter;
  // SCIMMYRouters mounts endpoints only for resource types declared before it is constructed.
  declareResourceTypes();
  sharedRouter = new SCIMMYRouters({
    type: 'bearer',
    docUri: 'https://datatracker.ietf.org/doc/html/rfc6750',
    handler: (req) => {
      if (!hasValidToken(req, stateOfRequest(req))) throw new Error('Missing or invalid bearer token');
      // No authenticated SCIM user: a non-string makes scimmy-routers answer /Me with 501.
      return undefined as unknown as string;
    },
    context: (req) => stateOfRequest(req),
  });
  // The router constructor switched on patch, filter, sort and bulk; advertise what this harness really does.
  // Sorting is not advertised (scimmy would still sort on sortBy) so clients do not come to rely on it.
  SCIMMY.Config.set({
    documentationUri: 'https://datatracker.ietf.org/doc/html/rfc7644',
    patch: true,
    filter: { supported: true, maxResults: 200 },
    sort: false,
    bulk: false,
    changePassword: false,
    etag: false,
  });
  return sharedRouter;
}

// ---------------------------------------------------------------------------------------------------------
// Per-server middleware.

function recordRequests(state: ServerState): express.RequestHandler {
  return (req, res, next) => {
    // Copied now: the router later converts startIndex/count to numbers in place.
    const record: ScimRequestRecord = {
      method: req.method,
      path: req.path,
      query: { ...req.query },
      body: req.body,
      receivedAt: Date.now(),
    };
    state.requests.push(record);
    res.on('finish', () => {
      record.status = res.statusCode;
    });
    next();
  };
}

function refuseUnsupportedPatch(state: ServerState): express.RequestHandler {
  return (req, res, next) => {
    // Unauthenticated requests are left to the router, so they get 401 like every other request.
    if (req.method !== 'PATCH' || state.patchSupported || !hasValidToken(req, state)) return next();
    res
      .status(501)
      .type('application/scim+json')
      .json({
        schemas: [SCIM_ERROR_SCHEMA],
        status: '501',
        detail: 'PATCH is not supported by this service provider',
      });
  };
}

function absoluteLocations(value: unknown, origin: string): unknown {
  if (Array.isArray(value)) return value.map((item) => absoluteLocations(item, origin));
  if (value === null || typeof value !== 'object') return value;
  const result: PlainObject = {};
  for (const [key, child] of Object.entries(value)) {
    const location = key === 'meta' ? (child as PlainObject | null)?.location : undefined;
    result[key] =
      typeof location === 'string' && location.startsWith('/')
        ? { ...(child as PlainObject), location: `${origin}${location}` }
        : absoluteLocations(child, origin);
  }
  return result;
}

function rewriteResponses(state: ServerState): express.RequestHandler {
  return (req, res, next) => {
    const sendJson = res.json.bind(res);
    res.json = ((body: unknown) => {
      if (body === undefined || body === null) return sendJson(body);
      // Locations follow the Host the client used, so a client behind the fault proxy stays behind it.
      const origin = req.headers.host ? `${req.protocol}://${req.headers.host}` : state.origin;
      const rewritten = absoluteLocations(JSON.parse(JSON.stringify(body)), origin) as PlainObject;
      if (req.method === 'GET' && req.path === '/ServiceProviderConfig') {
        rewritten.patch = { supported: state.patchSupported };
      }
      const location = (rewritten.meta as PlainObject | undefined)?.location;
      if (res.statusCode === 201 && typeof location === 'string') res.location(location);
      if (res.statusCode === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="scim"');
      return sendJson(rewritten);
    }) as typeof res.json;
    next();
  };
}

/** Errors raised outside scimmy-routers (malformed JSON, our own bugs) still get SCIM error bodies. */
// Express recognises error handlers by their four parameters, hence the unused _next.
const answerWithScimError: express.ErrorRequestHandler = (error, _req, res, _next) => {
  // scimmy-routers has already answered 5xx errors before passing them on, for logging.
  if (res.headersSent) return;
  const status = Number((error as { status?: number }).status) || 500;
  const body: PlainObject = {
    schemas: [SCIM_ERROR_SCHEMA],
    status: String(status),
    detail: String(error?.message),
  };
  if (status === 400) body.scimType = 'invalidSyntax';
  res.status(status).type('application/scim+json').json(body);
};

export async function startScimServer(options: ScimServerOptions = {}): Promise<ScimTestServer> {
  const state: ServerState = {
    directory: new InMemoryDirectory(options.uniqueness ?? true),
    token: options.token ?? randomBytes(24).toString('hex'),
    patchSupported: options.patch ?? true,
    origin: '',
    requests: [],
  };

  const app = express();
  stateByApp.set(app, state);
  app.use(
    SCIM_BASE_PATH,
    express.json({ type: SCIM_CONTENT_TYPES, limit: '1mb' }),
    recordRequests(state),
    refuseUnsupportedPatch(state),
    rewriteResponses(state),
    scimmyRouter(),
  );
  app.use(answerWithScimError);

  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(options.port ?? 0, '127.0.0.1', () => resolve(listening));
    listening.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  state.origin = `http://127.0.0.1:${port}`;
  const url = `${state.origin}${SCIM_BASE_PATH}`;
  state.directory.baseUrl = url;

  const { directory } = state;
  const userSchema = (attributes: PlainObject) =>
    toStoredAttributes(new SCIMMY.Schemas.User(attributes, 'in'));
  const groupSchema = (attributes: PlainObject) =>
    toStoredAttributes(new SCIMMY.Schemas.Group(attributes, 'in'));

  return {
    url,
    token: state.token,
    requests: state.requests,
    resetRequests: () => {
      state.requests.length = 0;
    },
    users: () => deepCopy([...directory.users.values()]),
    groups: () => deepCopy([...directory.groups.values()]),
    seedUser: ({ id, ...attributes }) => deepCopy(directory.createUser(userSchema(attributes), id)),
    seedGroup: ({ id, ...attributes }) => deepCopy(directory.createGroup(groupSchema(attributes), id)),
    // schemas is left out so scimmy recomputes it: an extension whose attributes were removed drops out.
    updateUserDirectly: (id, changes) => {
      const current = withoutKeys(directory.getUser(id), 'id', 'meta', 'schemas');
      return deepCopy(directory.replaceUser(id, userSchema({ ...current, ...changes })));
    },
    updateGroupDirectly: (id, changes) => {
      const current = withoutKeys(directory.getGroup(id), 'id', 'meta', 'schemas');
      return deepCopy(directory.replaceGroup(id, groupSchema({ ...current, ...changes })));
    },
    deleteUserDirectly: (id) => directory.deleteUser(id),
    deleteGroupDirectly: (id) => directory.deleteGroup(id),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
