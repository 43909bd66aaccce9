/**
 * The machinery every app emulator shares: an HTTP server on a loopback port in front of a fresh scimmy server
 * (`startScimServer`), which checks each request against the app's documented rules before the app sees it,
 * answers a request that breaks one the way the app does (and logs it as a violation), meters writes where the
 * app does, and otherwise lets the app handle the request (by default: forward it to scimmy unchanged).
 *
 * The vendor files (`aws.ts`, `okta.ts`, …) hold only the rules and what the app does differently, each next
 * to the public page that documents it.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { parse as parseFilter, type Filter } from 'scim2-parse-filter';
import {
  SCIM_BASE_PATH,
  startScimServer,
  type ScimGroupRecord,
  type ScimServerOptions,
  type ScimTestServer,
  type ScimUserRecord,
} from '../scimServer';
import type { WriteRateLimit } from './rateLimit';

export const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

export type PlainObject = Record<string, unknown>;

/** A request as the emulated app reads it. */
export interface EmulatedRequest {
  /** Upper case. */
  method: string;
  /** Below the base URL, e.g. "/Users/123". */
  path: string;
  query: Record<string, string>;
  /** The parsed JSON body; undefined when there is none. */
  body: unknown;
  /** "Users" or "Groups" for those endpoints. */
  resourceType?: 'Users' | 'Groups';
  /** The resource id of `/Users/{id}` or `/Groups/{id}`. */
  id?: string;
}

/** What the app answers. A body is sent as application/scim+json. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** How the app refuses a request that breaks one of its documented rules. */
export interface Refusal {
  status: number;
  /** Said in the error body and in the violation; name the rule. */
  detail: string;
  scimType?: string;
}

/** One documented rule: a refusal when the request breaks it. */
export type Rule = (request: EmulatedRequest) => Refusal | undefined;

/** The scimmy server behind the emulator, as the app's own storage and protocol engine. */
export interface AppBackend {
  server: ScimTestServer;
  /** Sends a request to scimmy (authenticated), answering with its reply; the body parsed when JSON. */
  send(
    method: string,
    path: string,
    options?: { query?: Record<string, string>; body?: unknown },
  ): Promise<Reply>;
  /** Forwards the request as it is (with `body` in place of the client's when given). */
  forward(request: EmulatedRequest, body?: unknown): Promise<Reply>;
}

export interface Emulation {
  /** Options for the scimmy server behind it (e.g. `patch: false`). */
  serverOptions?: ScimServerOptions;
  /** The app's rate limit; a request it refuses is answered 429 with Retry-After and counted in rateLimited(). */
  rateLimit?: WriteRateLimit;
  /** The documented rules, checked in order before the app handles the request. */
  rules?: Rule[];
  /** What the app does with a request that broke no rule; by default scimmy answers it. */
  handle?: (request: EmulatedRequest, app: AppBackend) => Promise<Reply>;
}

export interface EmulatedRequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  /** Set once answered. */
  status?: number;
  /** The documented rule the request broke, when the emulator refused it for that. */
  violation?: string;
  /** Set when the rate limit refused it (429). */
  rateLimited?: boolean;
  receivedAt: number;
}

export interface RunningEmulation {
  url: string;
  token: string;
  requests: EmulatedRequestRecord[];
  violations(): string[];
  rateLimited(): number;
  backend: ScimTestServer;
  close(): Promise<void>;
}

export function scimError(status: number, detail: string, scimType?: string): PlainObject {
  const body: PlainObject = { schemas: [SCIM_ERROR_SCHEMA], status: String(status), detail };
  if (scimType) body.scimType = scimType;
  return body;
}

export function refusal(status: number, detail: string, scimType?: string): Refusal {
  return { status, detail, scimType };
}

// ---------------------------------------------------------------------------------------------------------
// Helpers for rules.

export function isObject(value: unknown): value is PlainObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether the request writes a resource of this type (`POST /Users`, `PATCH /Groups/{id}`, …). */
export function writes(
  request: EmulatedRequest,
  resourceType: 'Users' | 'Groups',
  ...methods: string[]
): boolean {
  return request.resourceType === resourceType && methods.includes(request.method);
}

export interface PatchOperation {
  /** Lower case. */
  op: string;
  path?: string;
  value?: unknown;
}

/** The operations of a PatchOp body (op names lower-cased); empty when the body is not one. */
export function patchOperations(body: unknown): PatchOperation[] {
  const operations = isObject(body) ? (body.Operations ?? body.operations) : undefined;
  if (!Array.isArray(operations)) return [];
  return operations.filter(isObject).map((operation) => ({
    op: String(operation.op ?? '').toLowerCase(),
    path: typeof operation.path === 'string' ? operation.path : undefined,
    value: operation.value,
  }));
}

/** The top-level attribute a PATCH path names ("members[value eq \"x\"]" → "members", "name.givenName" → "name"). */
export function pathAttribute(path: string): string {
  if (path.toLowerCase().startsWith('urn:')) return path;
  return path.split(/[[.]/, 1)[0];
}

/**
 * The attributes a write sets, with their values: the body of a POST or PUT, and for a PATCH each operation's
 * target (a path-less operation's value object counts attribute by attribute).
 */
export function writtenAttributes(request: EmulatedRequest): { name: string; value: unknown }[] {
  if (request.method === 'POST' || request.method === 'PUT') {
    return isObject(request.body)
      ? Object.entries(request.body).map(([name, value]) => ({ name, value }))
      : [];
  }
  if (request.method !== 'PATCH') return [];
  return patchOperations(request.body).flatMap((operation) => {
    if (operation.path) return [{ name: pathAttribute(operation.path), value: operation.value }];
    return isObject(operation.value)
      ? Object.entries(operation.value).map(([name, value]) => ({ name, value }))
      : [];
  });
}

/** Case-insensitive attribute-name comparison, as SCIM names are (RFC 7643 §2.1). */
export function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * A rule allowing only `eq` comparisons (joined by `and`) on the listed attributes, per resource type; any other
 * filter, or a filter on a resource type with no list, is refused with 400 invalidFilter.
 */
export function onlyEqualityFilters(
  app: string,
  allowed: Partial<Record<'Users' | 'Groups', string[]>>,
): Rule {
  return (request) => {
    if (request.method !== 'GET' || !request.resourceType || request.id) return undefined;
    const filter = request.query.filter;
    if (filter === undefined) return undefined;
    const attributes = allowed[request.resourceType] ?? [];
    let parsed: Filter;
    try {
      parsed = parseFilter(filter);
    } catch {
      // A malformed filter is the protocol engine's to refuse, not a quirk of the app.
      return undefined;
    }
    const unsupported = unsupportedComparison(parsed, attributes);
    if (!unsupported) return undefined;
    const supported = attributes.length
      ? `only eq (and "and") on ${attributes.join(', ')}`
      : 'no filter at all';
    return refusal(
      400,
      `${app} filters ${request.resourceType} with ${supported}; "${unsupported}" is not supported`,
      'invalidFilter',
    );
  };
}

function unsupportedComparison(filter: Filter, attributes: string[]): string | undefined {
  if (filter.op === 'and') {
    for (const part of (filter as { filters: Filter[] }).filters) {
      const unsupported = unsupportedComparison(part, attributes);
      if (unsupported) return unsupported;
    }
    return undefined;
  }
  const attrPath = (filter as { attrPath?: string }).attrPath ?? '';
  if (filter.op === 'eq' && attributes.some((attribute) => sameName(attribute, attrPath))) return undefined;
  return filter.op === '[]' ? `${attrPath}[…]` : `${attrPath} ${filter.op}`;
}

// ---------------------------------------------------------------------------------------------------------
// The proxy.

const LOOPBACK = '127.0.0.1';

function readBody(stream: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function describeRequest(request: EmulatedRequest): EmulatedRequest {
  const match = /^\/(Users|Groups)(?:\/([^/]+))?\/?$/.exec(request.path);
  if (!match) return request;
  return {
    ...request,
    resourceType: match[1] as 'Users' | 'Groups',
    id: match[2] === undefined ? undefined : decodeURIComponent(match[2]),
  };
}

export async function runEmulation(emulation: Emulation): Promise<RunningEmulation> {
  const backend = await startScimServer(emulation.serverOptions);
  const backendUrl = new URL(backend.url);
  const requests: EmulatedRequestRecord[] = [];
  const sockets = new Set<Socket>();
  const agent = new http.Agent({ keepAlive: false });
  // The Host the backend builds meta.location from: the emulator's, so links point back at the emulator.
  let host = '';

  const send: AppBackend['send'] = (method, path, options = {}) =>
    new Promise((resolve, reject) => {
      const query = new URLSearchParams(options.query ?? {}).toString();
      const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
      const headers: http.OutgoingHttpHeaders = {
        host,
        authorization: `Bearer ${backend.token}`,
        accept: 'application/scim+json',
      };
      if (payload) {
        headers['content-type'] = 'application/scim+json';
        headers['content-length'] = payload.length;
      }
      const upstream = http.request(
        {
          host: backendUrl.hostname,
          port: backendUrl.port,
          method,
          path: `${backendUrl.pathname}${path}${query ? `?${query}` : ''}`,
          headers,
          agent,
        },
        (response) => {
          readBody(response).then((buffer) => {
            const replyHeaders: Record<string, string> = {};
            const location = response.headers.location;
            if (location) replyHeaders.location = location;
            resolve({
              status: response.statusCode ?? 502,
              body: parseJson(buffer.toString('utf8')),
              headers: replyHeaders,
            });
          }, reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(payload);
    });

  const app: AppBackend = {
    server: backend,
    send,
    forward: (request, body) =>
      send(request.method, request.path, {
        query: request.query,
        body: body === undefined ? request.body : body,
      }),
  };

  async function respond(req: http.IncomingMessage, record: EmulatedRequestRecord): Promise<Reply> {
    if (req.headers.authorization !== `Bearer ${backend.token}`) {
      return {
        status: 401,
        body: scimError(401, 'Missing or invalid bearer token'),
        headers: { 'www-authenticate': 'Bearer realm="scim"' },
      };
    }
    const request = describeRequest({
      method: record.method,
      path: record.path,
      query: record.query,
      body: record.body,
    });
    if (emulation.rateLimit) {
      const decision = emulation.rateLimit.take(request.method);
      if (!decision.ok) {
        record.rateLimited = true;
        return {
          status: 429,
          body: scimError(429, 'Too many requests'),
          headers: { 'retry-after': String(decision.retryAfterSeconds) },
        };
      }
    }
    for (const rule of emulation.rules ?? []) {
      const refused = rule(request);
      if (refused) {
        record.violation = refused.detail;
        return { status: refused.status, body: scimError(refused.status, refused.detail, refused.scimType) };
      }
    }
    return emulation.handle ? emulation.handle(request, app) : app.forward(request);
  }

  function answer(res: http.ServerResponse, record: EmulatedRequestRecord, reply: Reply): void {
    record.status = reply.status;
    const headers: http.OutgoingHttpHeaders = { ...reply.headers };
    let payload: Buffer | undefined;
    if (reply.body !== undefined && reply.status !== 204) {
      payload = Buffer.from(JSON.stringify(reply.body));
      headers['content-type'] = 'application/scim+json';
      headers['content-length'] = payload.length;
    }
    res.writeHead(reply.status, headers);
    res.end(payload);
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const below = url.pathname.startsWith(SCIM_BASE_PATH)
      ? url.pathname.slice(SCIM_BASE_PATH.length) || '/'
      : url.pathname;
    const record: EmulatedRequestRecord = {
      method: (req.method ?? 'GET').toUpperCase(),
      path: below,
      query: Object.fromEntries(url.searchParams.entries()),
      body: undefined,
      receivedAt: Date.now(),
    };
    requests.push(record);
    readBody(req)
      .then((buffer) => {
        const text = buffer.toString('utf8');
        record.body = parseJson(text);
        if (typeof record.body === 'string') {
          return { status: 400, body: scimError(400, 'Request body is not JSON', 'invalidSyntax') };
        }
        if (!url.pathname.startsWith(SCIM_BASE_PATH)) {
          return { status: 404, body: scimError(404, `No endpoint at ${url.pathname}`) };
        }
        return respond(req, record);
      })
      .then(
        (reply) => answer(res, record, reply),
        (error: Error) => answer(res, record, { status: 500, body: scimError(500, error.message) }),
      );
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  host = `${LOOPBACK}:${port}`;

  return {
    url: `http://${host}${SCIM_BASE_PATH}`,
    token: backend.token,
    requests,
    violations: () =>
      requests
        .filter((record) => record.violation)
        .map((record) => `${record.method} ${record.path}: ${record.violation}`),
    rateLimited: () => requests.filter((record) => record.rateLimited).length,
    backend,
    close: async () => {
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        for (const socket of sockets) socket.destroy();
      });
      agent.destroy();
      await backend.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Normalisation: apps that store something other than what they were sent.

/** A stored resource without what the server sets itself, ready to be PUT back. */
export function writable(resource: PlainObject): PlainObject {
  const copy = { ...resource };
  delete copy.meta;
  return copy;
}

/**
 * Lets scimmy apply a write, then stores the user as the app would keep it (`normalise`), answering with the
 * stored user. POST and PUT bodies are normalised before they reach scimmy (so uniqueness sees the stored
 * values); a PATCH is applied first and its result normalised and written back.
 */
export async function writeNormalisedUser(
  request: EmulatedRequest,
  app: AppBackend,
  normalise: (user: PlainObject) => PlainObject,
): Promise<Reply> {
  if ((request.method === 'POST' || request.method === 'PUT') && isObject(request.body)) {
    return app.forward(request, normalise(request.body));
  }
  const reply = await app.forward(request);
  if (request.method !== 'PATCH' || !request.id || reply.status >= 300) return reply;
  const stored =
    isObject(reply.body) && reply.body.id
      ? reply.body
      : ((await app.send('GET', `/Users/${encodeURIComponent(request.id)}`)).body as PlainObject);
  const normalised = normalise(writable(stored));
  if (JSON.stringify(normalised) === JSON.stringify(writable(stored))) {
    return reply.status === 204 ? reply : { status: 200, body: stored };
  }
  const rewritten = await app.send('PUT', `/Users/${encodeURIComponent(request.id)}`, {
    body: normalised,
  });
  return reply.status === 204 ? { status: 204 } : rewritten;
}

/** Drops the named top-level attributes (case-insensitive) from a user. */
export function withoutAttributes(user: PlainObject, names: string[]): PlainObject {
  return Object.fromEntries(
    Object.entries(user).filter(([key]) => !names.some((name) => sameName(name, key))),
  );
}

export type { ScimUserRecord, ScimGroupRecord };
