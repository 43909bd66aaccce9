import https from 'node:https';
import http from 'node:http';
import axios, { AxiosError, type AxiosInstance, type AxiosResponse, isAxiosError } from 'axios';
import { stringify as stringifyFilter } from 'scim2-parse-filter';
import type { z } from 'zod';
import { kindOfStatus, parseRetryAfter, plainExcerpt, ScimError } from './errors';
import {
  listResponseSchema,
  type PatchOperation,
  SCIM_SCHEMAS,
  type ScimGroup,
  scimGroupSchema,
  type ScimGroupPayload,
  type ScimUser,
  scimErrorBodySchema,
  scimUserSchema,
  type ScimUserPayload,
  type ServiceProviderConfig,
  serviceProviderConfigSchema,
} from './schemas';
import {
  checkTargetUrl,
  guardedLookup,
  type HostResolver,
  type TargetPolicy,
  type TargetRefusal,
  TargetRefusedError,
} from './targetPolicy';

export type ScimAuth =
  { type: 'bearer'; token: string } | { type: 'basic'; username: string; password: string };

export interface ScimClientOptions {
  baseUrl: string;
  auth: ScimAuth;
  timeoutMs?: number;
  /**
   * Which addresses this client may reach (`targetPolicy.ts`), checked before each request and on each connection
   * it opens. Every client made for an app has one (`Targets`); a client without one checks nothing.
   */
  targetPolicy?: TargetPolicy;
  /** How host names are resolved for the policy's check (tests); dns.lookup by default. */
  resolveHost?: HostResolver;
  /** A larger answer is cut off, not read to its end, and fails the call. */
  maxResponseBytes?: number;
  /**
   * How lists are paged: `index` (startIndex/count, RFC 7644; the default) or `cursor` (RFC 9865), which some apps
   * alone support (AWS IAM Identity Center ignores startIndex).
   */
  paging?: 'index' | 'cursor';
  /**
   * Every request is sent through this gate (e.g. a per-app cap on requests in flight, shared by all the clients
   * made for that app); without one, requests go out at once.
   */
  gate?: <T>(request: () => Promise<T>, call: { method: string; path: string }) => Promise<T>;
  /** Called once per HTTP exchange, for call counting and logs. Never receives credentials. */
  onExchange?: (exchange: {
    method: string;
    path: string;
    status: number | 'error';
    durationMs: number;
  }) => void;
}

/** One page of a list, and where the next one starts. */
export interface ListPage<R> {
  startIndex: number;
  /** The index paging position of the next page (under cursor paging, the number of the next resource). */
  nextStartIndex: number;
  /** Under cursor paging: the cursor of the next page; undefined on the last. */
  nextCursor?: string;
  /** As the app says; some apps leave it out under cursor paging. */
  totalResults?: number;
  last: boolean;
  resources: R[];
}

const SCIM_CONTENT_TYPE = 'application/scim+json';
export const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

/**
 * An idle keep-alive socket is closed after this long, or a second before the timeout the server announces
 * (`Keep-Alive: timeout=5` from Node servers) — Node applies that hint only under an agent timeout. A request
 * written to a socket the server is closing fails with ECONNRESET, which leaves a POST ambiguous (it may have
 * landed): the creation's retry must then wait out the claim before it looks the object up.
 */
const IDLE_SOCKET_TIMEOUT_MS = 30_000;

interface Agents {
  httpAgent: http.Agent;
  httpsAgent: https.Agent;
}
function keepAliveAgents(policy?: TargetPolicy, resolve?: HostResolver): Agents {
  // The policy's check runs where a socket resolves its host, on the addresses it then connects to.
  const lookup = (loopbackOnly: boolean) =>
    policy ? guardedLookup(policy, { loopbackOnly, resolve }) : undefined;
  const pooled = { keepAlive: true, maxSockets: 64, timeout: IDLE_SOCKET_TIMEOUT_MS };
  return {
    httpAgent: new http.Agent({ ...pooled, lookup: lookup(true) }),
    httpsAgent: new https.Agent({ ...pooled, lookup: lookup(false) }),
  };
}
// One keep-alive pool per process and policy: provisioning makes many small calls to the same few hosts, and a
// socket opened under one app's allowances must not serve an app without them.
const agentPools = new Map<string, Agents>();
function agentsFor(policy?: TargetPolicy, resolve?: HostResolver): Agents {
  if (resolve) return keepAliveAgents(policy, resolve);
  const key = policy ? `loopback:${policy.allowLoopback} private:${policy.allowPrivate}` : 'unchecked';
  let agents = agentPools.get(key);
  if (!agents) agentPools.set(key, (agents = keepAliveAgents(policy)));
  return agents;
}

function describeBytes(bytes: number): string {
  const megabytes = bytes / (1024 * 1024);
  return Number.isInteger(megabytes) ? `${megabytes} MB` : `${bytes} bytes`;
}

/** The policy's refusal behind a failed request, however the HTTP stack wrapped it. */
function refusalIn(error: unknown): TargetRefusedError | undefined {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 4; depth++) {
    if (cause instanceof TargetRefusedError) return cause;
    cause = cause.cause;
  }
  return undefined;
}

/** `attribute eq "value"` with the value quoted and escaped as RFC 7644 §3.4.2.2 requires. */
export function equalityFilter(attribute: string, value: string): string {
  return stringifyFilter({ op: 'eq', attrPath: attribute, compValue: value });
}

/**
 * A SCIM 2.0 service provider seen through HTTP: resources in, typed results or a `ScimError` out.
 * It knows nothing of the directory or of Temporal.
 */
export class ScimClient {
  private readonly http: AxiosInstance;
  private readonly refusal: TargetRefusal | undefined;
  private readonly maxResponseBytes: number;

  constructor(private readonly options: ScimClientOptions) {
    this.refusal = options.targetPolicy && checkTargetUrl(options.baseUrl, options.targetPolicy);
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const authorization =
      options.auth.type === 'bearer'
        ? `Bearer ${options.auth.token}`
        : `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`;
    this.http = axios.create({
      baseURL: options.baseUrl.replace(/\/+$/, ''),
      timeout: options.timeoutMs ?? 15_000,
      headers: { Authorization: authorization, Accept: `${SCIM_CONTENT_TYPE}, application/json` },
      // Every status is inspected by `send`, so that errors carry the target's SCIM detail.
      validateStatus: () => true,
      // A redirect is never followed: it could lead anywhere the policy refuses (a metadata address, say).
      maxRedirects: 0,
      // The http adapter counts the (decompressed) bytes as they arrive and destroys the stream past the limit.
      maxContentLength: this.maxResponseBytes,
      ...agentsFor(options.targetPolicy, options.resolveHost),
    });
  }

  async serviceProviderConfig(): Promise<ServiceProviderConfig> {
    return this.parse(serviceProviderConfigSchema, await this.send('GET', '/ServiceProviderConfig'));
  }

  async findUsers(filter: string, count = 2): Promise<{ totalResults: number; resources: ScimUser[] }> {
    const page = this.parse(
      listResponseSchema(scimUserSchema),
      await this.send('GET', '/Users', { params: { filter, startIndex: 1, count } }),
    );
    const resources = page.Resources ?? [];
    return { totalResults: page.totalResults ?? resources.length, resources };
  }

  async findUser(attribute: string, value: string): Promise<ScimUser | null> {
    const { resources } = await this.findUsers(equalityFilter(attribute, value));
    return resources[0] ?? null;
  }

  /**
   * Every resource of a type, page by page until the last (see `listPages`).
   */
  async *listAll<T extends 'Users' | 'Groups'>(
    resourceType: T,
    options: { pageSize?: number; filter?: string; excludedAttributes?: string } = {},
  ): AsyncGenerator<T extends 'Users' ? ScimUser : ScimGroup> {
    for await (const page of this.listPages(resourceType, options)) yield* page.resources;
  }

  /**
   * The pages of a resource type, each with where the next one starts, so that a caller can record its position
   * and resume a walk from it (e.g. a retried activity). Index paging (RFC 7644 §3.4.2.4): `startIndex`/`count`
   * until `totalResults`, pages counted by what they hold, not by `itemsPerPage`, which some servers misreport.
   * Cursor paging (RFC 9865, the client's `paging: 'cursor'`): `cursor` (empty for the first page) until an answer
   * has no `nextCursor`; `startIndex` then only numbers the resources. Either way a page that brings nothing new ends
   * the walk, so a server that ignores the position cannot loop it forever.
   */
  async *listPages<T extends 'Users' | 'Groups'>(
    resourceType: T,
    options: {
      pageSize?: number;
      filter?: string;
      excludedAttributes?: string;
      startIndex?: number;
      cursor?: string;
    } = {},
  ): AsyncGenerator<ListPage<T extends 'Users' ? ScimUser : ScimGroup>> {
    const schema = resourceType === 'Users' ? scimUserSchema : scimGroupSchema;
    const count = options.pageSize ?? 100;
    const byCursor = this.options.paging === 'cursor';
    const seen = new Set<string>();
    let startIndex = Math.max(1, options.startIndex ?? 1);
    let cursor = options.cursor ?? '';
    for (;;) {
      const page = this.parse(
        listResponseSchema(schema),
        await this.send('GET', `/${resourceType}`, {
          params: {
            ...(byCursor ? { cursor } : { startIndex }),
            count,
            filter: options.filter,
            excludedAttributes: options.excludedAttributes,
          },
        }),
      );
      const resources = (page.Resources ?? []) as (T extends 'Users' ? ScimUser : ScimGroup)[];
      const fresh = resources.filter((resource) => !seen.has(resource.id));
      for (const resource of fresh) seen.add(resource.id);
      const nextStartIndex = startIndex + resources.length;
      const nextCursor = byCursor && page.nextCursor ? page.nextCursor : undefined;
      const last =
        fresh.length === 0 ||
        (byCursor ? !nextCursor : page.totalResults !== undefined && nextStartIndex > page.totalResults);
      yield {
        startIndex,
        nextStartIndex,
        nextCursor,
        totalResults: page.totalResults,
        last,
        resources: fresh,
      };
      if (last) return;
      startIndex = nextStartIndex;
      cursor = nextCursor ?? '';
    }
  }

  async getUser(id: string): Promise<ScimUser> {
    return this.parse(scimUserSchema, await this.send('GET', `/Users/${encodeURIComponent(id)}`));
  }

  async createUser(user: ScimUserPayload): Promise<ScimUser> {
    return this.parse(scimUserSchema, await this.send('POST', '/Users', { data: user }));
  }

  /** Answers the user as the app now holds it when the app sends it back (200), null when it does not (204). */
  async patchUser(id: string, operations: PatchOperation[]): Promise<ScimUser | null> {
    const response = await this.send('PATCH', `/Users/${encodeURIComponent(id)}`, {
      data: patchRequest(operations),
    });
    return this.resourceIn(scimUserSchema, response);
  }

  /** Answers the user as the app now holds it when the app sends it back, null when it does not. */
  async replaceUser(id: string, user: ScimUserPayload): Promise<ScimUser | null> {
    const response = await this.send('PUT', `/Users/${encodeURIComponent(id)}`, { data: { ...user, id } });
    return this.resourceIn(scimUserSchema, response);
  }

  async deleteUser(id: string): Promise<void> {
    await this.send('DELETE', `/Users/${encodeURIComponent(id)}`);
  }

  async findGroupByDisplayName(displayName: string): Promise<ScimGroup | null> {
    const page = this.parse(
      listResponseSchema(scimGroupSchema),
      await this.send('GET', '/Groups', {
        params: {
          filter: equalityFilter('displayName', displayName),
          excludedAttributes: 'members',
          startIndex: 1,
          count: 2,
        },
      }),
    );
    return page.Resources?.[0] ?? null;
  }

  async getGroup(id: string, options: { withMembers: boolean }): Promise<ScimGroup> {
    const params = options.withMembers ? {} : { excludedAttributes: 'members' };
    return this.parse(
      scimGroupSchema,
      await this.send('GET', `/Groups/${encodeURIComponent(id)}`, { params }),
    );
  }

  async createGroup(group: ScimGroupPayload): Promise<ScimGroup> {
    return this.parse(scimGroupSchema, await this.send('POST', '/Groups', { data: group }));
  }

  async patchGroup(id: string, operations: PatchOperation[]): Promise<void> {
    await this.send('PATCH', `/Groups/${encodeURIComponent(id)}`, { data: patchRequest(operations) });
  }

  async replaceGroup(id: string, group: ScimGroupPayload): Promise<void> {
    await this.send('PUT', `/Groups/${encodeURIComponent(id)}`, { data: { ...group, id } });
  }

  async deleteGroup(id: string): Promise<void> {
    await this.send('DELETE', `/Groups/${encodeURIComponent(id)}`);
  }

  private send(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    request: { params?: Record<string, unknown>; data?: unknown } = {},
  ): Promise<AxiosResponse> {
    const gate = this.options.gate;
    return gate
      ? gate(() => this.sendNow(method, path, request), { method, path })
      : this.sendNow(method, path, request);
  }

  private async sendNow(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    request: { params?: Record<string, unknown>; data?: unknown },
  ): Promise<AxiosResponse> {
    if (this.refusal) {
      throw new ScimError('rejected', refusedMessage(method, path, this.refusal), {
        method,
        path,
        rule: this.refusal.rule,
      });
    }
    const started = Date.now();
    const exchange = () =>
      this.http.request({
        method,
        url: path,
        params: request.params,
        data: request.data,
        headers: request.data === undefined ? undefined : { 'Content-Type': SCIM_CONTENT_TYPE },
      });
    let response: AxiosResponse;
    try {
      response = await exchange().catch((error: unknown) => {
        // A kept-alive socket the target closed meanwhile fails before the request is read; an idempotent
        // request is simply sent again rather than costing an activity retry. POST is never resent here.
        if (
          method !== 'POST' &&
          isAxiosError(error) &&
          (error.code === 'ECONNRESET' || error.code === 'EPIPE')
        ) {
          return exchange();
        }
        throw error;
      });
    } catch (error) {
      this.options.onExchange?.({ method, path, status: 'error', durationMs: Date.now() - started });
      throw this.failure(method, path, error);
    }
    this.options.onExchange?.({ method, path, status: response.status, durationMs: Date.now() - started });
    if (response.status >= 200 && response.status < 300) return response;
    throw errorFromResponse(method, path, response);
  }

  private failure(method: string, path: string, error: unknown): ScimError {
    const refused = refusalIn(error);
    if (refused) {
      return new ScimError('rejected', refusedMessage(method, path, refused), {
        method,
        path,
        rule: refused.rule,
      });
    }
    if (
      isAxiosError(error) &&
      error.code === AxiosError.ERR_BAD_RESPONSE &&
      error.message.includes('maxContentLength')
    ) {
      // The target would answer the same again: not worth a retry. A list page can be made smaller (pageSize).
      return new ScimError(
        'rejected',
        `${method} ${path}: the response exceeded ${describeBytes(this.maxResponseBytes)} and was cut off (SCIMFLOW_MAX_RESPONSE_MB)`,
        { method, path },
      );
    }
    const reason = isAxiosError(error) ? (error.code ?? error.message) : String(error);
    return new ScimError('transient', `${method} ${path} failed: ${reason}`, { method, path });
  }

  /** The resource a write's answer carries, if it carries one (an empty or other body is not an error here). */
  private resourceIn<T extends z.ZodTypeAny>(schema: T, response: AxiosResponse): z.infer<T> | null {
    if (response.status === 204 || response.data === null || typeof response.data !== 'object') return null;
    const result = schema.safeParse(response.data);
    return result.success ? result.data : null;
  }

  private parse<T extends z.ZodTypeAny>(schema: T, response: AxiosResponse): z.infer<T> {
    const result = schema.safeParse(response.data);
    if (result.success) return result.data;
    const method = response.config.method?.toUpperCase() ?? '?';
    const where = `${method} ${response.config.url}`;
    const problems = result.error.issues
      .slice(0, 3)
      .map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`)
      .join('; ');
    throw new ScimError(
      'rejected',
      `${where} answered ${response.status} with an unexpected body: ${problems}`,
      {
        status: response.status,
      },
    );
  }
}

function refusedMessage(method: string, path: string, refusal: TargetRefusal): string {
  return `${method} ${path} not sent, refused by the target policy (${refusal.rule}): ${refusal.message}`;
}

function patchRequest(operations: PatchOperation[]) {
  return { schemas: [SCIM_SCHEMAS.patchOp], Operations: operations };
}

function errorFromResponse(method: string, path: string, response: AxiosResponse): ScimError {
  const body = scimErrorBodySchema.safeParse(response.data);
  const scimType = body.success && body.data.scimType ? plainExcerpt(body.data.scimType, 64) : undefined;
  // Quoted as short plain text: the answer may be an HTML error page, or anything at all.
  const answer = body.success
    ? body.data.detail
    : typeof response.data === 'string'
      ? response.data
      : undefined;
  const detail = answer ? plainExcerpt(answer) || undefined : undefined;
  const retryAfterMs = parseRetryAfter(response.headers['retry-after'] as string | undefined);
  const kind = kindOfStatus(response.status);
  const redirect = response.status >= 300 && response.status < 400 ? ' (redirects are not followed)' : '';
  const message = `${method} ${path} answered ${response.status}${scimType ? ` (${scimType})` : ''}${redirect}${
    detail ? `: ${detail}` : ''
  }`;
  return new ScimError(kind, message, {
    status: response.status,
    scimType,
    detail,
    retryAfterMs,
    method,
    path,
  });
}
