import type { DirectoryApp } from '../directory/model';
import type { AttributeMapping, ProfileName, RateLimit } from '../directory/targetSettings';
import { type AttributeSelection, userWriteRules, type UserWriteRules } from '../scim/diff';
import { SCIM_SCHEMAS } from '../scim/schemas';

/**
 * Dialect profiles: what a kind of app is known to accept, bundled, so that an operator picks "Slack" instead of
 * learning Slack's limits the hard way. Each quirk names where it is documented; the emulators under
 * `test/support/emulators/` enforce the same quirks, from the same sources, and each profile is tested against its
 * emulator (test/profiles.test.ts). An app's own settings override its profile's (`effectiveProfile`).
 */
export interface AppProfile {
  name: ProfileName;
  title: string;
  /** Members per group PATCH. */
  membershipBatchSize: number;
  /**
   * How a member leaves a group in a PATCH: `value-filter` — `{"op":"remove","path":"members[value eq \"id\"]"}`
   * (RFC 7644 §3.5.2.2, current Entra); `value-list` — `{"op":"remove","path":"members","value":[{"value":"id"}]}`
   * (legacy Entra, which apps tested with Entra all accept).
   */
  memberRemoval: 'value-filter' | 'value-list';
  /** How an existing user is changed: PATCH with the differences, or a PUT of the whole user as the app holds it. */
  userUpdates: 'patch' | 'put';
  /** Groups likewise (a PUT carries the members the group holds). */
  groupUpdates: 'patch' | 'put';
  /**
   * How `active` is written when it is the only change (a deactivation): `path` — `{"op":"replace","path":"active",
   * "value":false}`; `value-object` — Okta's `{"op":"replace","value":{"active":false}}`.
   */
  activeWrite: 'path' | 'value-object';
  /** Whether a user may be deleted; when not, deprovisioning deactivates whatever the app's deprovisionMode says. */
  deletesUsers: boolean;
  /** Which match attributes the app can filter on (`userName` always). */
  filterable: { externalId: boolean; email: boolean };
  /** Whether group reads carry members; when not, reconciliation trusts the memberships scimflow wrote. */
  groupMembersReadable: boolean;
  /** How lists are paged: startIndex/count (RFC 7644 §3.4.2.4) or cursors (RFC 9865). */
  paging: 'index' | 'cursor';
  /** The default attribute mapping (SCIM path → directory source). */
  mapping: AttributeMapping;
  /** Whether roles and entitlements may be switched on for the app at all. */
  acceptsRolesAndEntitlements: boolean;
  rateLimit: RateLimit | null;
  /** Where each quirk is documented. */
  sources: string[];
}

const ENTERPRISE = SCIM_SCHEMAS.enterpriseUser;

/** What scimflow sends when nothing else is said: the core and enterprise attributes the directory holds. */
const fullMapping: AttributeMapping = {
  userName: 'userName',
  'name.givenName': 'givenName',
  'name.familyName': 'familyName',
  'name.formatted': 'formattedName',
  displayName: 'displayName',
  title: 'title',
  active: 'active',
  emails: 'emails',
  phoneNumbers: 'phoneNumbers',
  [`${ENTERPRISE}:employeeNumber`]: 'employeeNumber',
  [`${ENTERPRISE}:department`]: 'department',
  [`${ENTERPRISE}:manager`]: 'manager',
};

const generic: AppProfile = {
  name: 'generic',
  title: 'Generic SCIM 2.0 (RFC 7643/7644)',
  membershipBatchSize: 100,
  memberRemoval: 'value-filter',
  userUpdates: 'patch',
  groupUpdates: 'patch',
  activeWrite: 'path',
  deletesUsers: true,
  filterable: { externalId: true, email: true },
  groupMembersReadable: true,
  paging: 'index',
  mapping: fullMapping,
  acceptsRolesAndEntitlements: true,
  rateLimit: null,
  sources: ['RFC 7643', 'RFC 7644'],
};

export const profiles: Record<ProfileName, AppProfile> = {
  generic,
  'entra-compatible': {
    ...generic,
    name: 'entra-compatible',
    title: 'Apps built for Microsoft Entra ID provisioning',
    // Entra removes members with a value list unless the app opts in to the newer form; apps tested only with
    // Entra often do not parse value filters in PATCH paths.
    memberRemoval: 'value-list',
    // Entra looks users up by userName or externalId with `eq` only; e-mail filters are not part of what it tests.
    filterable: { externalId: true, email: false },
    sources: [
      'learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups (request examples: PATCH "Remove" members with a value list; filters userName/externalId eq)',
      'learn.microsoft.com/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility (the aadOptscim062020 behaviour flag)',
    ],
  },
  'aws-iam-identity-center': {
    ...generic,
    name: 'aws-iam-identity-center',
    title: 'AWS IAM Identity Center',
    membershipBatchSize: 100,
    filterable: { externalId: true, email: false },
    groupMembersReadable: false,
    // startIndex is ignored: a walk by index would read the first page again and again.
    paging: 'cursor',
    mapping: {
      ...fullMapping,
      // One value per multi-valued attribute; displayName and both name parts are required on create.
      displayName: 'displayNameOrName',
      emails: 'primaryEmail',
      phoneNumbers: 'primaryPhoneNumber',
      [`${ENTERPRISE}:manager`]: null,
    },
    acceptsRolesAndEntitlements: false,
    sources: [
      'docs.aws.amazon.com/singlesignon/latest/developerguide/limitations.html (no multiple values for emails/phoneNumbers; no entitlements, roles, x509Certificates; filter eq/and on userName, externalId, displayName, id)',
      'docs.aws.amazon.com/singlesignon/latest/developerguide/patchgroup.html (at most 100 membership changes per PATCH)',
      'docs.aws.amazon.com/singlesignon/latest/developerguide/listgroups.html and getgroup.html (members are not returned)',
      'docs.aws.amazon.com/singlesignon/latest/developerguide/listusers.html (at most 100 results a page; startIndex not supported; cursor paging, RFC 9865)',
      'docs.aws.amazon.com/singlesignon/latest/developerguide/createuser.html (displayName, name.givenName, name.familyName required)',
    ],
  },
  'okta-compatible': {
    ...generic,
    name: 'okta-compatible',
    title: 'Apps built for Okta provisioning',
    // Okta updates profiles with GET then PUT, and PATCHes users only to (de)activate them, path-less.
    userUpdates: 'put',
    activeWrite: 'value-object',
    deletesUsers: false,
    filterable: { externalId: false, email: false },
    sources: [
      'developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20 (user updates: PUT; deactivation: PATCH {"op":"replace","value":{"active":false}}; users are never deleted; lookup: filter=userName eq)',
    ],
  },
  slack: {
    ...generic,
    name: 'slack',
    title: 'Slack (SCIM API v2)',
    filterable: { externalId: false, email: true },
    mapping: { ...fullMapping, phoneNumbers: 'primaryPhoneNumber' },
    acceptsRolesAndEntitlements: false,
    // Slack allows 180 user writes a minute with bursts of 20; half the burst is kept back so that requests
    // arriving closer together than they were sent (network jitter) never exceed it.
    rateLimit: { requestsPerMinute: 180, burst: 10, applies: 'writes' },
    sources: [
      'docs.slack.dev/reference/scim-api/rate-limits (180 user writes per minute, bursts of 20; 600 writes per minute per organisation; 429 with Retry-After)',
      'docs.slack.dev/reference/scim-api/scim-api-2 (DELETE /Users/{id} deactivates; filters on userName and emails)',
    ],
  },
  'github-emu': {
    ...generic,
    name: 'github-emu',
    title: 'GitHub Enterprise Managed Users',
    // GitHub's SCIM API does not take filters in PATCH paths: members leave by value list.
    memberRemoval: 'value-list',
    filterable: { externalId: true, email: false },
    acceptsRolesAndEntitlements: false,
    // "No more than 1,000 user assignments per hour"; bursts kept small.
    rateLimit: { requestsPerMinute: 16, burst: 5, applies: 'writes' },
    sources: [
      'docs.github.com/en/enterprise-cloud@latest/admin/managing-iam/provisioning-user-accounts-with-scim/provisioning-users-and-groups-with-scim-using-the-rest-api (409 on an existing userName or externalId; active false suspends; filters userName/externalId eq; at most 1,000 user assignments per hour)',
    ],
  },
  'put-only': {
    ...generic,
    name: 'put-only',
    title: 'Apps without PATCH (ServiceProviderConfig patch.supported false)',
    userUpdates: 'put',
    groupUpdates: 'put',
    sources: ['RFC 7644 §3.5.1 (PUT replaces the resource) and RFC 7643 §5 (patch.supported)'],
  },
};

/** An app's profile with the app's own settings laid over it: what every write to the app follows. */
export function effectiveProfile(
  app: Pick<DirectoryApp, 'profile' | 'membershipBatchSize' | 'rateLimit' | 'attributeMapping'>,
): AppProfile {
  // An app stored before profiles existed has none: it was written to as `generic` writes.
  const base = profiles[app.profile ?? 'generic'] ?? generic;
  return {
    ...base,
    membershipBatchSize: app.membershipBatchSize ?? base.membershipBatchSize,
    rateLimit: app.rateLimit === undefined ? base.rateLimit : app.rateLimit,
    mapping: effectiveMapping(base.mapping, app.attributeMapping),
  };
}

/** A profile's mapping with an app's entries laid over it; `null` entries take an attribute out. */
export function effectiveMapping(
  base: AttributeMapping,
  own: AttributeMapping | undefined,
): AttributeMapping {
  const merged: AttributeMapping = { ...base, ...own };
  for (const [path, source] of Object.entries(merged)) if (source === null) delete merged[path];
  return merged;
}

/** Which managed attributes the app's switches let scimflow write: core attributes, roles, entitlements. */
export function attributeSelectionOf(app: Pick<DirectoryApp, 'provisioning'>): AttributeSelection {
  return {
    core: app.provisioning.updateUsers,
    roles: app.provisioning.roles ?? false,
    entitlements: app.provisioning.permissions ?? false,
  };
}

/** The attributes scimflow manages on an app's users (its mapping) and which its switches let it write. */
export function userWriteRulesOf(
  app: Pick<
    DirectoryApp,
    'provisioning' | 'profile' | 'membershipBatchSize' | 'rateLimit' | 'attributeMapping'
  >,
): UserWriteRules {
  return userWriteRules(Object.keys(effectiveProfile(app).mapping), attributeSelectionOf(app));
}

/** An app's settings ask for what its profile says the app cannot do. */
export class ProfileConflictError extends Error {
  constructor(readonly problems: string[]) {
    super(`the app's settings conflict with its profile: ${problems.join('; ')}`);
    this.name = 'ProfileConflictError';
  }
}

/**
 * What an app's settings ask of the app that its profile says it cannot do, as sentences (none: fine). Checked when
 * an app is saved: a deletion the app refuses, a lookup filter it cannot run, attributes it rejects, fail every time.
 */
export function profileConflicts(
  app: Pick<
    DirectoryApp,
    | 'profile'
    | 'membershipBatchSize'
    | 'rateLimit'
    | 'attributeMapping'
    | 'deprovisionMode'
    | 'userMatchAttribute'
  > & { provisioning: Partial<DirectoryApp['provisioning']> },
): string[] {
  const profile = effectiveProfile(app);
  const problems: string[] = [];
  if (app.deprovisionMode === 'delete' && !profile.deletesUsers)
    problems.push(`${profile.title} never delete users: set deprovisionMode to deactivate`);
  if (app.userMatchAttribute === 'externalId' && !profile.filterable.externalId)
    problems.push(`${profile.title} cannot filter users on externalId: match on userName`);
  if (app.userMatchAttribute === 'email' && !profile.filterable.email)
    problems.push(`${profile.title} cannot filter users on e-mail: match on userName`);
  if ((app.provisioning.roles || app.provisioning.permissions) && !profile.acceptsRolesAndEntitlements)
    problems.push(`${profile.title} accept neither roles nor entitlements: switch roles and permissions off`);
  return problems;
}

/** Throws `ProfileConflictError` when `profileConflicts` finds any. */
export function assertFitsProfile(app: Parameters<typeof profileConflicts>[0]): void {
  const problems = profileConflicts(app);
  if (problems.length) throw new ProfileConflictError(problems);
}
