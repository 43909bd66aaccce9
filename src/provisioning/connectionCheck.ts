import { MAX_QUOTED_ANSWER, plainExcerpt, ScimError } from '../scim/errors';
import type { ServiceProviderConfig } from '../scim/schemas';
import { capabilitiesFrom, type TargetCapabilities, type Targets } from './targets';
import type { DirectoryApp } from '../directory/model';
import type { ProfileName } from '../directory/targetSettings';
import { profiles } from './profiles';

/** What a probe filter on a match attribute got: answered, refused by the app (4xx), or not tried. */
export type FilterProbe = 'works' | 'refused' | 'not-tried';

export interface ConnectionReport {
  ok: boolean;
  reachable: boolean;
  authenticated: boolean;
  capabilities?: TargetCapabilities;
  usersEndpoint?: { ok: boolean; totalResults?: number };
  /** Whether the app filters users on the other match attributes (probed with values that match nobody). */
  filters?: { externalId: FilterProbe; email: FilterProbe };
  /** The profile that fits what the app said of itself and how it answered, and why. */
  proposedProfile?: { profile: ProfileName; reasons: string[] };
  error?: { step: 'ServiceProviderConfig' | 'Users'; status?: number; message: string };
}

/** A value no real user has, for probe filters. */
const NOBODY = 'scimflow-connection-test';

/**
 * Reads /ServiceProviderConfig and runs filtered GET /Users with values that match nobody (userName, then
 * externalId and e-mail), reporting precisely what failed, and proposes a profile from what it saw.
 */
export async function checkConnection(targets: Targets, app: DirectoryApp): Promise<ConnectionReport> {
  const client = targets.newClient(app);
  const report: ConnectionReport = { ok: false, reachable: false, authenticated: false };
  let step: 'ServiceProviderConfig' | 'Users' = 'ServiceProviderConfig';
  try {
    const config = await client.serviceProviderConfig();
    report.capabilities = capabilitiesFrom(config);
    report.reachable = true;
    step = 'Users';
    // A filter that matches nobody proves filtering and authentication without reading real data.
    const probe = await client.findUsers(`userName eq "${NOBODY}"`, 1);
    report.authenticated = true;
    report.usersEndpoint = { ok: true, totalResults: probe.totalResults };
    report.filters = {
      externalId: await probeFilter(() => client.findUsers(`externalId eq "${NOBODY}"`, 1)),
      email: await probeFilter(() => client.findUsers(`emails.value eq "${NOBODY}@example.invalid"`, 1)),
    };
    report.proposedProfile = proposeProfile(app.baseUrl, config, report.filters);
    report.ok = true;
  } catch (error) {
    if (!(error instanceof ScimError)) throw error;
    const status = error.details.status;
    report.reachable = status !== undefined;
    // Only a successful authenticated call proves the credentials (ServiceProviderConfig may be public).
    report.authenticated = false;
    const hint =
      status === 401 || status === 403
        ? ' — check the app credentials'
        : error.details.rule
          ? ' — see "Target addresses" in docs/operations.md'
          : status === undefined
            ? ' — check baseUrl and that the target is reachable from the worker'
            : '';
    // The message quotes at most MAX_QUOTED_ANSWER characters of the answer (the client cuts them); the whole is
    // made plain text once more, since the API hands it to whoever asked.
    const message = plainExcerpt(error.message, MAX_QUOTED_ANSWER + 200);
    report.error = { step, status, message: `${message}${hint}` };
  }
  return report;
}

async function probeFilter(find: () => Promise<unknown>): Promise<FilterProbe> {
  try {
    await find();
    return 'works';
  } catch (error) {
    // A 4xx says the app does not take this filter; anything else (5xx, network) says nothing either way.
    if (error instanceof ScimError && error.kind !== 'transient' && error.kind !== 'rate-limited')
      return 'refused';
    return 'not-tried';
  }
}

/** Where vendors' SCIM endpoints live: the host (and path) names the app. */
const knownEndpoints: { profile: ProfileName; test: (url: URL) => boolean }[] = [
  { profile: 'slack', test: (url) => url.hostname === 'api.slack.com' },
  {
    profile: 'aws-iam-identity-center',
    test: (url) => /^scim\.[a-z0-9-]+\.amazonaws\.com$/.test(url.hostname),
  },
  {
    profile: 'github-emu',
    test: (url) => url.hostname === 'api.github.com' && url.pathname.startsWith('/scim/v2/enterprises/'),
  },
];

/** Vendor names in what the app says of itself (documentation links, authentication scheme names). */
const knownNames: { profile: ProfileName; pattern: RegExp }[] = [
  { profile: 'slack', pattern: /slack/i },
  { profile: 'aws-iam-identity-center', pattern: /amazon|aws/i },
  { profile: 'github-emu', pattern: /github/i },
  { profile: 'okta-compatible', pattern: /okta/i },
  { profile: 'entra-compatible', pattern: /microsoft|azure|entra/i },
];

/**
 * The profile that fits: a vendor's known endpoint, then a vendor named in the ServiceProviderConfig, then PATCH
 * support; `generic` otherwise. Each reason says what it rests on; filters the app refused are named too, since
 * they decide which match attributes can work.
 */
export function proposeProfile(
  baseUrl: string,
  config: ServiceProviderConfig,
  filters: { externalId: FilterProbe; email: FilterProbe },
): { profile: ProfileName; reasons: string[] } {
  const reasons: string[] = [];
  let profile: ProfileName | undefined;
  const url = new URL(baseUrl);
  const endpoint = knownEndpoints.find((known) => known.test(url));
  if (endpoint) {
    profile = endpoint.profile;
    reasons.push(`${url.hostname} is ${profiles[profile].title}'s SCIM endpoint`);
  }
  if (!profile) {
    const described = JSON.stringify([
      config.documentationUri,
      config.authenticationSchemes?.map((scheme) => [
        scheme.name,
        scheme.description,
        scheme.documentationUri,
      ]),
    ]);
    const named = knownNames.find((known) => known.pattern.test(described));
    if (named) {
      profile = named.profile;
      reasons.push(`its ServiceProviderConfig names ${profiles[profile].title}`);
    }
  }
  if (config.patch?.supported === false && (!profile || profiles[profile].userUpdates === 'patch')) {
    reasons.push('its ServiceProviderConfig says patch.supported: false');
    profile = 'put-only';
  }
  if (filters.externalId === 'refused') reasons.push('it refused a filter on externalId: match on userName');
  if (filters.email === 'refused')
    reasons.push('it refused a filter on emails.value: do not match on e-mail');
  if (!profile) reasons.push('nothing points at a known kind of app: standard SCIM 2.0');
  return { profile: profile ?? 'generic', reasons };
}
