import { Limiter } from './concurrency';
import { RecordGoneError } from './errors';
import { RemoteIndex } from './remoteIndex';
import { DEFAULT_MAX_RESPONSE_BYTES, ScimClient, type ScimClientOptions } from '../scim/client';
import type { UserWriteRules } from '../scim/diff';
import type { ServiceProviderConfig } from '../scim/schemas';
import { type AppProfile, effectiveProfile, userWriteRulesOf } from './profiles';
import { inFlightFor } from './rateLimiter';
import { assessTarget, type HostResolver, type TargetPolicy, type TargetRefusal } from '../scim/targetPolicy';
import type { AppInput, DirectoryApp } from '../directory/model';
import type { DirectoryStore } from '../directory/store';

export interface TargetCapabilities {
  patch: boolean;
  filter: boolean;
  bulk: boolean;
  etag: boolean;
  maxResults?: number;
}

export function capabilitiesFrom(config: ServiceProviderConfig): TargetCapabilities {
  return {
    patch: config.patch?.supported ?? true,
    filter: config.filter?.supported ?? true,
    bulk: config.bulk?.supported ?? false,
    etag: config.etag?.supported ?? false,
    maxResults: config.filter?.maxResults,
  };
}

const CAPABILITIES_TTL_MS = 10 * 60_000;

/**
 * Sends an app's requests no faster than its rate limit allows (see `effectiveProfile`), and holds them all back
 * while the app asks for a pause (a 429's Retry-After). `call` is the request about to be sent.
 */
export interface RequestPacer {
  send<T>(app: DirectoryApp, call: { method: string; path: string }, request: () => Promise<T>): Promise<T>;
}

/**
 * SCIM requests one process keeps in flight towards one app, whatever asks (every activity of a worker). Assigning
 * 100 groups at once starts 100 bulk activities of 16 members each: without a cap, 1,600 requests would hit one
 * target at once, which SaaS targets answer with 429s and small on-premises ones with timeouts. 32 keeps a fast
 * target busy (the bench's local target is saturated at about 16) and stays under the keep-alive pool's 64 sockets.
 */
export const MAX_REQUESTS_IN_FLIGHT_PER_APP = 32;

/**
 * The process's settings for every target (`config.targets`): the policy's allowances, which an app can widen
 * only by `allowPrivateNetwork`, and the response size limit.
 */
export interface TargetSettings extends TargetPolicy {
  maxResponseBytes: number;
}
/** Without settings, nothing but public https targets (a process that forgot to pass its config stays safe). */
const STRICT_SETTINGS: TargetSettings = {
  allowLoopback: false,
  allowPrivate: false,
  maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
};

/**
 * One app's SCIM service provider as the writes see it: the app, a client, and its capabilities, asked only once
 * a write needs them (a run that finds nothing to repair makes no call beyond its list pages).
 */
export interface Target {
  app: DirectoryApp;
  /** The app's profile with its own settings over it: batch sizes, PATCH or PUT, mapping, rate limit. */
  profile: AppProfile;
  /** The attributes scimflow manages on the app's users, and which its switches let it write. */
  userRules: UserWriteRules;
  client: ScimClient;
  capabilities(): Promise<TargetCapabilities>;
  /** Whether users (or groups) are changed with PATCH: the app supports it and its profile uses it. */
  patches(resource: 'users' | 'groups'): Promise<boolean>;
}

/**
 * Connects an app id to a SCIM client. Credentials are read from the store here, inside the worker or API
 * process, so they never travel through workflow inputs or histories. Capabilities from
 * `/ServiceProviderConfig` are cached per app and base URL.
 */
export class Targets {
  private readonly capabilityCache = new Map<
    string,
    { at: number; capabilities: Promise<TargetCapabilities> }
  >();

  /** Per app and base URL: the cap on requests in flight, the cap on bulk creations, the shared listings. */
  private readonly perApp = new Map<
    string,
    { requests: Limiter; creations: Limiter; index: RemoteIndex; matchAttribute: string }
  >();
  private readonly maxInFlight: number;
  private readonly clients = new Map<string, { made: string; client: ScimClient }>();

  private readonly onExchange?: ScimClientOptions['onExchange'];
  private readonly settings: TargetSettings;
  private readonly resolveHost?: HostResolver;
  private readonly pacer?: RequestPacer;

  constructor(
    private readonly store: DirectoryStore,
    options: {
      onExchange?: ScimClientOptions['onExchange'];
      settings?: TargetSettings;
      /** How host names resolve for the target policy (tests); dns.lookup by default. */
      resolveHost?: HostResolver;
      /** Requests in flight per app in this process (`MAX_REQUESTS_IN_FLIGHT_PER_APP` by default). */
      maxRequestsInFlightPerApp?: number;
      /** Paces each app's requests to its rate limit, across processes (`RateLimiter`); none: no pacing. */
      pacer?: RequestPacer;
    } = {},
  ) {
    this.pacer = options.pacer;
    this.maxInFlight = options.maxRequestsInFlightPerApp ?? MAX_REQUESTS_IN_FLIGHT_PER_APP;
    this.onExchange = options.onExchange;
    this.settings = options.settings ?? STRICT_SETTINGS;
    this.resolveHost = options.resolveHost;
  }

  /**
   * The policy for one app: the process's allowances, and private addresses if the app allows them (an app stored
   * before the setting existed has none).
   */
  policyFor(app: Partial<Pick<AppInput, 'allowPrivateNetwork'>>): TargetPolicy {
    return {
      allowLoopback: this.settings.allowLoopback,
      allowPrivate: this.settings.allowPrivate || app.allowPrivateNetwork === true,
    };
  }

  /** Why an app's baseUrl may not be called, checked as the API saves it (its host resolved now), if it may not. */
  refusal(
    app: Pick<AppInput, 'baseUrl'> & Partial<Pick<AppInput, 'allowPrivateNetwork'>>,
  ): Promise<TargetRefusal | undefined> {
    return assessTarget(app.baseUrl, this.policyFor(app), this.resolveHost);
  }

  async app(appId: string): Promise<DirectoryApp> {
    const app = await this.store.getApp(appId);
    if (!app) throw new RecordGoneError('app', appId);
    return app;
  }

  /**
   * The app's client, made once for as long as what it is made from — base URL, credentials, timeout, network
   * policy, paging — stays the same (a change in any makes a new one at the next call).
   */
  clientFor(app: DirectoryApp): ScimClient {
    const { paging } = effectiveProfile(app);
    const made = JSON.stringify([app.baseUrl, app.auth, app.timeoutMs, app.allowPrivateNetwork, paging]);
    const known = this.clients.get(app.id);
    if (known?.made === made) return known.client;
    const client = this.newClient(app);
    this.clients.set(app.id, { made, client });
    return client;
  }

  /** A client of its own, for a connection check: what it reports is the app as configured now, not a reused one. */
  newClient(app: DirectoryApp): ScimClient {
    const { requests } = this.of(app);
    return new ScimClient({
      baseUrl: app.baseUrl,
      auth: app.auth,
      timeoutMs: app.timeoutMs,
      targetPolicy: this.policyFor(app),
      resolveHost: this.resolveHost,
      maxResponseBytes: this.settings.maxResponseBytes,
      paging: effectiveProfile(app).paging,
      onExchange: this.onExchange,
      gate: (request, call) =>
        requests.run(() => (this.pacer ? this.pacer.send(app, call, request) : request())),
    });
  }

  /** The app's users and groups as listed, shared by every caller in this process (see `RemoteIndex`). */
  remoteIndex(app: DirectoryApp): RemoteIndex {
    return this.of(app).index;
  }

  /**
   * Turns for bulk creations in this app (claim, look-up, POST, link), as many as requests may be in flight. A
   * creation claim is taken just before its POST, so the POST never waits behind a queue long enough for the claim
   * (`CREATION_CLAIM_TTL_MS`) to expire while it is still to be sent.
   */
  bulkCreations(app: DirectoryApp): Limiter {
    return this.of(app).creations;
  }

  private of(app: DirectoryApp) {
    const { rateLimit } = effectiveProfile(app);
    const key = `${app.id} ${app.baseUrl} ${JSON.stringify(rateLimit)}`;
    let state = this.perApp.get(key);
    // A listing is keyed by the match attribute it was made for: a change of setting starts a new one.
    if (state && state.matchAttribute !== app.userMatchAttribute) {
      state = { ...state, index: new RemoteIndex(this.store), matchAttribute: app.userMatchAttribute };
      this.perApp.set(key, state);
    }
    if (!state) {
      state = {
        requests: new Limiter(this.maxInFlight),
        // A creation holds its claim while its POST waits for a slot: under a rate limit, only as many creations
        // start as can be sent within seconds, so no claim is held near the time another path may take it over.
        creations: new Limiter(
          rateLimit ? Math.min(this.maxInFlight, inFlightFor(rateLimit)) : this.maxInFlight,
        ),
        index: new RemoteIndex(this.store),
        matchAttribute: app.userMatchAttribute,
      };
      this.perApp.set(key, state);
    }
    return state;
  }

  connect(app: DirectoryApp): Target {
    const client = this.clientFor(app);
    const profile = effectiveProfile(app);
    let known: TargetCapabilities | undefined;
    const capabilities = async () => (known ??= await this.capabilities(app, client));
    return {
      app,
      profile,
      userRules: userWriteRulesOf(app),
      client,
      capabilities,
      patches: async (resource) =>
        (resource === 'users' ? profile.userUpdates : profile.groupUpdates) === 'patch' &&
        (await capabilities()).patch,
    };
  }

  private async capabilities(app: DirectoryApp, client: ScimClient): Promise<TargetCapabilities> {
    const key = `${app.id} ${app.baseUrl}`;
    const cached = this.capabilityCache.get(key);
    if (cached && Date.now() - cached.at < CAPABILITIES_TTL_MS) return cached.capabilities;
    // Concurrent first calls share one request; a failed one is forgotten so the next call asks again.
    const capabilities = client.serviceProviderConfig().then(capabilitiesFrom);
    this.capabilityCache.set(key, { at: Date.now(), capabilities });
    capabilities.catch(() => this.capabilityCache.delete(key));
    return capabilities;
  }
}
