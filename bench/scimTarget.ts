/**
 * The bench's SCIM 2.0 target: a small, fast, in-memory service provider that runs in a process of its own
 * (`node --import tsx bench/scimTarget.ts`), so that what the bench measures is the engine and not the target.
 *
 * Why not test/support/scimServer.ts (scimmy + express): measured in a child process on a 2-core machine with
 * 16 POSTs in flight, it created 377 users/s at first and 99/s by the 10,000th (its uniqueness check and filter
 * matching scan and re-project every record), a `userName eq` GET took 360 ms with 10,000 users, and a PATCH of
 * 100 members 140 ms — the target, not the engine, would have set the figures. Here every lookup is a map.
 *
 * What it does: Users and Groups (POST, GET by id, GET list with `startIndex`/`count`, PUT, PATCH, DELETE),
 * filters `userName eq`, `displayName eq`, `externalId eq`, `emails.value eq`, `id eq`; PATCH with paths
 * (`members`, `members[value eq "…"]`, `name.givenName`, enterprise-extension URNs) or without; 409 on a
 * userName or displayName in use (case-insensitive); 400 on a group member that does not exist (so a member
 * sent before its user was created shows up); `excludedAttributes=members`; ServiceProviderConfig.
 *
 * It records every request: arrival time (epoch ms), method, kind (path shape and filter attribute), status and,
 * for POST /Users, the userName. The bench reads them and the target's state over `/_bench/*` (loopback only).
 *
 * Configuration (environment): BENCH_TARGET_TOKEN (required bearer token), BENCH_TARGET_PORT (default: free),
 * BENCH_TARGET_RATE_LIMIT (`<writes per minute>/<burst>`, e.g. `180/20` as Slack: writes above it are answered
 * 429 with Retry-After; none by default).
 * Prints `LISTENING <base url>` on stdout once it accepts connections.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { WriteRateLimit } from '../test/support/emulators/rateLimit';

const BASE_PATH = '/scim/v2';
const CONTROL_PATH = '/_bench';
const MAX_BODY_BYTES = 8 * 1024 * 1024;
const MAX_RESULTS = 1000;
const SCHEMA = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  list: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  error: 'urn:ietf:params:scim:api:messages:2.0:Error',
  patchOp: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  spc: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
};

type Json = Record<string, unknown>;

/** One request as the bench reads it: [arrival epoch ms, method, kind, status (0 while in flight), userName]. */
export type TargetRecord = [number, string, string, number, string | null];

export interface TargetSummary {
  users: number;
  groups: number;
  memberships: number;
  requests: number;
  /** Users whose userName starts with the `prefix` query parameter (0 without one). */
  withPrefix: number;
}

export interface TargetState {
  users: [id: string, userName: string, active: boolean][];
  groups: [id: string, displayName: string, memberIds: string[]][];
}

class ScimFailure extends Error {
  constructor(
    readonly status: number,
    detail: string,
    readonly scimType?: string,
  ) {
    super(detail);
  }
}

const nowMs = () => performance.timeOrigin + performance.now();
const fold = (value: unknown) => String(value).toLowerCase();

interface UserRecord extends Json {
  id: string;
  userName: string;
}

interface GroupRecord {
  id: string;
  displayName: string;
  externalId?: string;
  /** Members by value, in the order they were added. */
  members: Map<string, Json>;
  extra: Json;
  meta: Json;
}

class Store {
  readonly users = new Map<string, UserRecord>();
  readonly groups = new Map<string, GroupRecord>();
  private readonly userByName = new Map<string, string>();
  private readonly groupByName = new Map<string, string>();
  baseUrl = '';

  private meta(resourceType: 'User' | 'Group', id: string): Json {
    const now = new Date().toISOString();
    const endpoint = resourceType === 'User' ? 'Users' : 'Groups';
    return { resourceType, created: now, lastModified: now, location: `${this.baseUrl}/${endpoint}/${id}` };
  }

  // ── users ──

  getUser(id: string): UserRecord {
    const user = this.users.get(id);
    if (!user) throw new ScimFailure(404, `User ${id} not found`);
    return user;
  }

  private claimUserName(userName: unknown, id: string): string {
    if (typeof userName !== 'string' || userName === '')
      throw new ScimFailure(400, 'userName is required', 'invalidValue');
    const holder = this.userByName.get(fold(userName));
    if (holder !== undefined && holder !== id)
      throw new ScimFailure(409, `userName '${userName}' is already in use`, 'uniqueness');
    return userName;
  }

  createUser(body: Json): UserRecord {
    const id = randomUUID();
    const userName = this.claimUserName(body.userName, id);
    const { id: _ignoredId, meta: _ignoredMeta, ...attributes } = body;
    const user: UserRecord = { ...attributes, id, userName, meta: this.meta('User', id) };
    if (!Array.isArray(user.schemas)) user.schemas = [SCHEMA.user];
    this.users.set(id, user);
    this.userByName.set(fold(userName), id);
    return user;
  }

  replaceUser(id: string, body: Json): UserRecord {
    const existing = this.getUser(id);
    const userName = this.claimUserName(body.userName, id);
    const { id: _ignoredId, meta: _ignoredMeta, ...attributes } = body;
    const user: UserRecord = { ...attributes, id, userName, meta: this.touched(existing.meta as Json) };
    this.userByName.delete(fold(existing.userName));
    this.userByName.set(fold(userName), id);
    this.users.set(id, user);
    return user;
  }

  patchUser(id: string, operations: Json[]): UserRecord {
    const existing = this.getUser(id);
    const user = JSON.parse(JSON.stringify(existing)) as UserRecord;
    for (const operation of operations) applyPatch(user, operation);
    return this.replaceUser(id, user);
  }

  deleteUser(id: string): void {
    const user = this.getUser(id);
    this.users.delete(id);
    this.userByName.delete(fold(user.userName));
    for (const group of this.groups.values()) group.members.delete(id);
  }

  // ── groups ──

  getGroup(id: string): GroupRecord {
    const group = this.groups.get(id);
    if (!group) throw new ScimFailure(404, `Group ${id} not found`);
    return group;
  }

  private claimDisplayName(displayName: unknown, id: string): string {
    if (typeof displayName !== 'string' || displayName === '')
      throw new ScimFailure(400, 'displayName is required', 'invalidValue');
    const holder = this.groupByName.get(fold(displayName));
    if (holder !== undefined && holder !== id)
      throw new ScimFailure(409, `displayName '${displayName}' is already in use`, 'uniqueness');
    return displayName;
  }

  private member(value: unknown): [string, Json] {
    const id = String((value as Json | null)?.value ?? '');
    const user = this.users.get(id);
    const group = this.groups.get(id);
    if (!user && !group) throw new ScimFailure(400, `Group member '${id}' does not exist`, 'invalidValue');
    return [
      id,
      user
        ? { value: id, display: user.userName, type: 'User', $ref: `${this.baseUrl}/Users/${id}` }
        : { value: id, display: group?.displayName, type: 'Group', $ref: `${this.baseUrl}/Groups/${id}` },
    ];
  }

  private toGroup(id: string, body: Json, meta: Json): GroupRecord {
    const displayName = this.claimDisplayName(body.displayName, id);
    const { id: _ignoredId, meta: _ignoredMeta, members, displayName: _name, externalId, ...extra } = body;
    const group: GroupRecord = { id, displayName, members: new Map(), extra, meta };
    if (typeof externalId === 'string') group.externalId = externalId;
    if (Array.isArray(members)) for (const m of members) group.members.set(...this.member(m));
    return group;
  }

  private store(group: GroupRecord, previousName?: string): GroupRecord {
    if (previousName !== undefined) this.groupByName.delete(fold(previousName));
    this.groupByName.set(fold(group.displayName), group.id);
    this.groups.set(group.id, group);
    return group;
  }

  createGroup(body: Json): GroupRecord {
    const id = randomUUID();
    return this.store(this.toGroup(id, body, this.meta('Group', id)));
  }

  replaceGroup(id: string, body: Json): GroupRecord {
    const existing = this.getGroup(id);
    return this.store(this.toGroup(id, body, this.touched(existing.meta)), existing.displayName);
  }

  patchGroup(id: string, operations: Json[]): GroupRecord {
    const group = this.getGroup(id);
    const previousName = group.displayName;
    // Checked before anything changes, so a refused PATCH leaves the group as it was.
    const members = new Map(group.members);
    let displayName = group.displayName;
    let externalId = group.externalId;
    const extra: Json = JSON.parse(JSON.stringify(group.extra)) as Json;
    for (const operation of operations) {
      const op = fold(operation.op);
      const path = typeof operation.path === 'string' ? operation.path.trim() : '';
      const value = operation.value;
      const memberFilter = /^members\[\s*value\s+eq\s+("(?:[^"\\]|\\.)*")\s*\]$/i.exec(path);
      if (memberFilter) {
        if (op !== 'remove') throw new ScimFailure(400, `unsupported ${op} on ${path}`, 'invalidPath');
        members.delete(JSON.parse(memberFilter[1]) as string);
      } else if (fold(path) === 'members') {
        const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
        if (op === 'remove' && value === undefined) members.clear();
        else if (op === 'remove') for (const m of values) members.delete(String((m as Json).value));
        else {
          if (op === 'replace') members.clear();
          for (const m of values) members.set(...this.member(m));
        }
      } else if (path === '') {
        const object = (value ?? {}) as Json;
        for (const [key, attribute] of Object.entries(object)) {
          if (key === 'members' && Array.isArray(attribute)) {
            if (op === 'replace') members.clear();
            for (const m of attribute) members.set(...this.member(m));
          } else if (key === 'displayName') displayName = String(attribute);
          else if (key === 'externalId') externalId = String(attribute);
          else if (key !== 'id' && key !== 'meta' && key !== 'schemas') extra[key] = attribute;
        }
      } else if (fold(path) === 'displayname') {
        if (op === 'remove') throw new ScimFailure(400, 'displayName is required', 'mutability');
        displayName = String(value);
      } else if (fold(path) === 'externalid') {
        externalId = op === 'remove' ? undefined : String(value);
      } else {
        applyPatch(extra, operation);
      }
    }
    this.claimDisplayName(displayName, id);
    const patched: GroupRecord = {
      id,
      displayName,
      members,
      extra,
      meta: this.touched(group.meta),
      ...(externalId !== undefined ? { externalId } : {}),
    };
    return this.store(patched, previousName);
  }

  deleteGroup(id: string): void {
    const group = this.getGroup(id);
    this.groups.delete(id);
    this.groupByName.delete(fold(group.displayName));
    for (const other of this.groups.values()) other.members.delete(id);
  }

  groupJson(group: GroupRecord, withMembers: boolean): Json {
    return {
      schemas: [SCHEMA.group],
      ...group.extra,
      id: group.id,
      displayName: group.displayName,
      ...(group.externalId !== undefined ? { externalId: group.externalId } : {}),
      ...(withMembers && group.members.size > 0 ? { members: [...group.members.values()] } : {}),
      meta: group.meta,
    };
  }

  private touched(meta: Json): Json {
    return { ...meta, lastModified: new Date().toISOString() };
  }

  // ── filters ──

  findUsers(filter: Filter | undefined): UserRecord[] {
    if (!filter) return [...this.users.values()];
    const { attribute, value } = filter;
    if (attribute === 'username') {
      const id = this.userByName.get(fold(value));
      return id === undefined ? [] : [this.users.get(id) as UserRecord];
    }
    if (attribute === 'id') return this.users.has(value) ? [this.users.get(value) as UserRecord] : [];
    if (attribute === 'externalid') return [...this.users.values()].filter((u) => u.externalId === value);
    if (attribute === 'emails.value' || attribute === 'emails')
      return [...this.users.values()].filter(
        (u) => Array.isArray(u.emails) && u.emails.some((e: Json) => fold(e.value) === fold(value)),
      );
    throw new ScimFailure(400, `filtering on ${attribute} is not supported`, 'invalidFilter');
  }

  findGroups(filter: Filter | undefined): GroupRecord[] {
    if (!filter) return [...this.groups.values()];
    const { attribute, value } = filter;
    if (attribute === 'displayname') {
      const id = this.groupByName.get(fold(value));
      return id === undefined ? [] : [this.groups.get(id) as GroupRecord];
    }
    if (attribute === 'id') return this.groups.has(value) ? [this.groups.get(value) as GroupRecord] : [];
    if (attribute === 'externalid') return [...this.groups.values()].filter((g) => g.externalId === value);
    throw new ScimFailure(400, `filtering on ${attribute} is not supported`, 'invalidFilter');
  }
}

interface Filter {
  /** Lower-cased attribute path. */
  attribute: string;
  value: string;
}

function parseFilter(filter: string | null): Filter | undefined {
  if (filter === null || filter.trim() === '') return undefined;
  const match = /^\s*([A-Za-z][\w.:-]*)\s+eq\s+("(?:[^"\\]|\\.)*")\s*$/i.exec(filter);
  if (!match) throw new ScimFailure(400, `unsupported filter: ${filter}`, 'invalidFilter');
  return { attribute: fold(match[1]), value: JSON.parse(match[2]) as string };
}

/** A PATCH operation on a plain resource: a path `a`, `a.b`, `a[x eq "v"]` or `urn:…:attr`, or none. */
function applyPatch(resource: Json, operation: Json): void {
  const op = fold(operation.op);
  const rawPath = typeof operation.path === 'string' ? operation.path.trim() : '';
  if (rawPath === '') {
    if (op === 'remove') throw new ScimFailure(400, 'remove needs a path', 'noTarget');
    for (const [key, value] of Object.entries((operation.value ?? {}) as Json)) {
      if (key.startsWith('urn:') && value && typeof value === 'object' && !Array.isArray(value)) {
        resource[key] = { ...((resource[key] as Json | undefined) ?? {}), ...(value as Json) };
      } else resource[key] = value;
    }
    return;
  }
  let container = resource;
  let path = rawPath;
  const urn = /^(urn:[^[]+):([^:[.]+(?:\.[^:[.]+)?(?:\[.*\])?)$/i.exec(rawPath);
  if (urn && !rawPath.toLowerCase().startsWith(`${SCHEMA.user.toLowerCase()}:`)) {
    container = (resource[urn[1]] ??= {}) as Json;
    path = urn[2];
  } else if (urn) {
    path = urn[2];
  }
  const filtered = /^([^[]+)\[\s*(\w+)\s+eq\s+("(?:[^"\\]|\\.)*")\s*\](?:\.(\w+))?$/.exec(path);
  if (filtered) {
    const [, attribute, key, quoted, sub] = filtered;
    const wanted = JSON.parse(quoted) as string;
    const list = Array.isArray(container[attribute]) ? (container[attribute] as Json[]) : [];
    const matches = (item: Json) => fold(item[key]) === fold(wanted);
    if (op === 'remove' && sub === undefined) container[attribute] = list.filter((item) => !matches(item));
    else if (op === 'remove') list.filter(matches).forEach((item) => delete item[sub as string]);
    else if (sub !== undefined) list.filter(matches).forEach((item) => (item[sub] = operation.value));
    else container[attribute] = list.map((item) => (matches(item) ? (operation.value as Json) : item));
    return;
  }
  const parts = path.split('.');
  for (const part of parts.slice(0, -1)) container = (container[part] ??= {}) as Json;
  const last = parts[parts.length - 1];
  if (op === 'remove') delete container[last];
  else if (op === 'add' && Array.isArray(container[last]) && Array.isArray(operation.value))
    container[last] = [...(container[last] as unknown[]), ...operation.value];
  else container[last] = operation.value;
}

function serviceProviderConfig(): Json {
  return {
    schemas: [SCHEMA.spc],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [{ type: 'oauthbearertoken', name: 'Bearer token', description: 'RFC 6750' }],
  };
}

function listResponse(resources: Json[], params: URLSearchParams): Json {
  const startIndex = Math.max(1, Number(params.get('startIndex') ?? 1) || 1);
  const count = Math.min(MAX_RESULTS, Math.max(0, Number(params.get('count') ?? MAX_RESULTS) || 0));
  const page = resources.slice(startIndex - 1, startIndex - 1 + count);
  return {
    schemas: [SCHEMA.list],
    totalResults: resources.length,
    startIndex,
    itemsPerPage: page.length,
    Resources: page,
  };
}

/** The kind of a request, for the bench's breakdown: path shape with ids folded, and the filter's attribute. */
function kindOf(method: string, resourcePath: string, params: URLSearchParams): string {
  const [, collection, id] = /^\/(Users|Groups|ServiceProviderConfig|[^/]*)(?:\/([^/]+))?/.exec(
    resourcePath,
  ) ?? [undefined, resourcePath, undefined];
  if (id !== undefined) return `${method} /${collection}/:id`;
  if (method === 'GET' && (collection === 'Users' || collection === 'Groups')) {
    const filter = params.get('filter');
    if (filter) {
      const attribute = /^\s*([\w.:-]+)/.exec(filter)?.[1] ?? '?';
      return `GET /${collection}?filter=${attribute}`;
    }
    return `GET /${collection} (list)`;
  }
  return `${method} /${collection}`;
}

function main(): void {
  const token = process.env.BENCH_TARGET_TOKEN;
  if (!token) throw new Error('BENCH_TARGET_TOKEN is required');
  const store = new Store();
  const records: TargetRecord[] = [];
  const rateLimit = writeRateLimitFrom(process.env.BENCH_TARGET_RATE_LIMIT);

  const handleScim = (
    method: string,
    resourcePath: string,
    params: URLSearchParams,
    body: Json | undefined,
  ): [number, Json | undefined] => {
    const withMembers = !/\bmembers\b/.test(params.get('excludedAttributes') ?? '');
    const [, collection, id, rest] = /^\/([^/]+)(?:\/([^/]+))?(\/.*)?$/.exec(resourcePath) ?? [];
    if (rest !== undefined) throw new ScimFailure(404, `no such endpoint ${resourcePath}`);
    if (collection === 'ServiceProviderConfig' && method === 'GET') return [200, serviceProviderConfig()];
    if (collection === 'Users') {
      if (id === undefined && method === 'GET')
        return [200, listResponse(store.findUsers(parseFilter(params.get('filter'))), params)];
      if (id === undefined && method === 'POST') return [201, store.createUser(body ?? {})];
      if (id !== undefined && method === 'GET') return [200, store.getUser(id)];
      if (id !== undefined && method === 'PUT') return [200, store.replaceUser(id, body ?? {})];
      if (id !== undefined && method === 'PATCH') return [200, store.patchUser(id, patchOperations(body))];
      if (id !== undefined && method === 'DELETE') {
        store.deleteUser(id);
        return [204, undefined];
      }
    }
    if (collection === 'Groups') {
      if (id === undefined && method === 'GET') {
        const groups = store.findGroups(parseFilter(params.get('filter')));
        return [
          200,
          listResponse(
            groups.map((g) => store.groupJson(g, withMembers)),
            params,
          ),
        ];
      }
      if (id === undefined && method === 'POST')
        return [201, store.groupJson(store.createGroup(body ?? {}), true)];
      if (id !== undefined && method === 'GET')
        return [200, store.groupJson(store.getGroup(id), withMembers)];
      if (id !== undefined && method === 'PUT')
        return [200, store.groupJson(store.replaceGroup(id, body ?? {}), true)];
      if (id !== undefined && method === 'PATCH') {
        store.patchGroup(id, patchOperations(body));
        // Like many providers (and RFC 7644 §3.5.2 allows), no body after a PATCH of a group.
        return [204, undefined];
      }
      if (id !== undefined && method === 'DELETE') {
        store.deleteGroup(id);
        return [204, undefined];
      }
    }
    throw new ScimFailure(404, `no route ${method} ${resourcePath}`);
  };

  const handleControl = (route: string, params: URLSearchParams): Json | unknown[] => {
    if (route === '/records') {
      const from = Math.max(0, Number(params.get('from') ?? 0) || 0);
      return { next: records.length, records: records.slice(from) };
    }
    if (route === '/summary') {
      const prefix = params.get('prefix');
      let memberships = 0;
      for (const group of store.groups.values()) memberships += group.members.size;
      let withPrefix = 0;
      if (prefix) for (const user of store.users.values()) if (user.userName.startsWith(prefix)) withPrefix++;
      const summary: TargetSummary = {
        users: store.users.size,
        groups: store.groups.size,
        memberships,
        requests: records.length,
        withPrefix,
      };
      return summary as unknown as Json;
    }
    if (route === '/state') {
      const state: TargetState = {
        users: [...store.users.values()].map((u) => [u.id, u.userName, u.active !== false]),
        groups: [...store.groups.values()].map((g) => [g.id, g.displayName, [...g.members.keys()]]),
      };
      return state as unknown as Json;
    }
    throw new ScimFailure(404, `no control route ${route}`);
  };

  const server = http.createServer((req, res) => {
    const arrived = nowMs();
    const url = new URL(req.url ?? '/', 'http://target');
    const method = req.method ?? 'GET';
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      const send = (status: number, payload: unknown) => {
        if (payload === undefined) {
          res.writeHead(status);
          res.end();
          return;
        }
        const text = JSON.stringify(payload);
        res.writeHead(status, {
          'Content-Type': 'application/scim+json',
          'Content-Length': Buffer.byteLength(text),
        });
        res.end(text);
      };
      if (url.pathname.startsWith(CONTROL_PATH)) {
        try {
          send(200, handleControl(url.pathname.slice(CONTROL_PATH.length), url.searchParams));
        } catch (error) {
          send(error instanceof ScimFailure ? error.status : 500, { detail: String(error) });
        }
        return;
      }
      const record: TargetRecord = [arrived, method, '', 0, null];
      let status: number;
      let payload: unknown;
      try {
        if (!url.pathname.startsWith(`${BASE_PATH}/`)) throw new ScimFailure(404, `no route ${url.pathname}`);
        const resourcePath = url.pathname.slice(BASE_PATH.length);
        record[2] = kindOf(method, resourcePath, url.searchParams);
        records.push(record);
        if (req.headers.authorization !== `Bearer ${token}`) throw new ScimFailure(401, 'bad bearer token');
        if (size > MAX_BODY_BYTES) throw new ScimFailure(413, 'body too large');
        const allowed = rateLimit?.take(method, arrived);
        if (allowed && !allowed.ok) {
          res.setHeader('Retry-After', String(allowed.retryAfterSeconds));
          throw new ScimFailure(429, `more than ${rateLimit?.perMinute} writes a minute`);
        }
        let body: Json | undefined;
        if (chunks.length > 0) {
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
          } catch {
            throw new ScimFailure(400, 'body is not JSON', 'invalidSyntax');
          }
        }
        if (method === 'POST' && record[2] === 'POST /Users' && typeof body?.userName === 'string')
          record[4] = body.userName;
        [status, payload] = handleScim(method, resourcePath, url.searchParams, body);
      } catch (error) {
        if (record[2] === '') {
          record[2] = `${method} ${url.pathname}`;
          records.push(record);
        }
        status = error instanceof ScimFailure ? error.status : 500;
        payload = {
          schemas: [SCHEMA.error],
          status: String(status),
          ...(error instanceof ScimFailure && error.scimType ? { scimType: error.scimType } : {}),
          detail: error instanceof Error ? error.message : String(error),
        };
        if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="scim"');
      }
      record[3] = status;
      if (status === 201) res.setHeader('Location', String(((payload as Json).meta as Json).location));
      send(status, payload);
    });
  });
  server.keepAliveTimeout = 60_000;
  const port = Number(process.env.BENCH_TARGET_PORT ?? 0);
  server.listen(port, '127.0.0.1', () => {
    const address = server.address() as AddressInfo;
    store.baseUrl = `http://127.0.0.1:${address.port}${BASE_PATH}`;
    process.stdout.write(`LISTENING ${store.baseUrl}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The bench owns this process: when the bench goes away (stdin closes), so does the target.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

function writeRateLimitFrom(setting: string | undefined): WriteRateLimit | undefined {
  if (!setting) return undefined;
  const [perMinute, burst] = setting.split('/').map(Number);
  return new WriteRateLimit({ perMinute, burst, applies: 'writes' });
}

function patchOperations(body: Json | undefined): Json[] {
  const operations = body?.Operations;
  if (!Array.isArray(operations) || operations.length === 0)
    throw new ScimFailure(400, 'a PatchOp needs Operations', 'invalidSyntax');
  return operations as Json[];
}

if (require.main === module) main();
