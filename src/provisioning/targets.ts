import { RecordGoneError } from './errors';
import { ScimClient, type ScimClientOptions } from '../scim/client';
import type { ServiceProviderConfig } from '../scim/schemas';
import type { DirectoryApp } from '../directory/model';
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
 * One app's SCIM service provider as the writes see it: the app, a client, and its capabilities, asked only once
 * a write needs them (a run that finds nothing to repair makes no call beyond its list pages).
 */
export interface Target {
  app: DirectoryApp;
  client: ScimClient;
  capabilities(): Promise<TargetCapabilities>;
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

  constructor(
    private readonly store: DirectoryStore,
    private readonly onExchange?: ScimClientOptions['onExchange'],
  ) {}

  async app(appId: string): Promise<DirectoryApp> {
    const app = await this.store.getApp(appId);
    if (!app) throw new RecordGoneError('app', appId);
    return app;
  }

  clientFor(app: DirectoryApp): ScimClient {
    return new ScimClient({
      baseUrl: app.baseUrl,
      auth: app.auth,
      timeoutMs: app.timeoutMs,
      onExchange: this.onExchange,
    });
  }

  connect(app: DirectoryApp): Target {
    const client = this.clientFor(app);
    let known: TargetCapabilities | undefined;
    return { app, client, capabilities: async () => (known ??= await this.capabilities(app, client)) };
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
