import { z } from 'zod';

/**
 * The settings that say how an app is written to, beyond where and with which switches: its dialect profile, its
 * rate limit and its attribute mapping (src/provisioning/profiles.ts gives each profile's defaults). Part of the
 * app's schema in model.ts.
 */

export const profileNames = [
  'generic',
  'entra-compatible',
  'aws-iam-identity-center',
  'okta-compatible',
  'slack',
  'github-emu',
  'put-only',
] as const;
export const profileNameSchema = z.enum(profileNames);
export type ProfileName = (typeof profileNames)[number];

/**
 * A per-app request rate, shared by every process that calls the app (`RateLimiter`). `applies` says which calls
 * count: `writes` (POST, PUT, PATCH, DELETE), as Slack and GitHub count them, or `all`.
 */
export const rateLimitSchema = z
  .object({
    requestsPerMinute: z.number().min(1).max(60_000),
    /** Requests that may go at once after a quiet spell (the bucket's size). */
    burst: z.number().int().min(1).max(10_000),
    applies: z.enum(['writes', 'all']),
  })
  .strict();
export type RateLimit = z.infer<typeof rateLimitSchema>;

/** Where a SCIM attribute's value comes from in the directory (see `attributeMappingSchema`). */
export const directorySources = [
  'userName',
  'givenName',
  'familyName',
  'formattedName',
  'displayName',
  /** displayName, or else the name (formatted, or given and family name), or else the userName: never empty. */
  'displayNameOrName',
  'emails',
  /** The primary e-mail (or the first) alone, for apps that take one value only. */
  'primaryEmail',
  'phoneNumbers',
  'primaryPhoneNumber',
  'title',
  'active',
  'employeeNumber',
  'department',
  /** The manager's remote id in this app (the enterprise extension's `manager.value`). */
  'manager',
  /** The directory's `externalId` field (an id from the source system), not scimflow's own id. */
  'externalId',
] as const;
export type DirectorySource = (typeof directorySources)[number];

/** SCIM attribute path → directory source; `null` removes a profile's default (the attribute is not sent). */
export type AttributeMapping = Record<string, DirectorySource | null>;

const CORE_USER_PATHS = new Set([
  'userName',
  'displayName',
  'nickName',
  'profileUrl',
  'title',
  'userType',
  'preferredLanguage',
  'locale',
  'timezone',
  'active',
  'name.givenName',
  'name.familyName',
  'name.formatted',
  'name.middleName',
  'name.honorificPrefix',
  'name.honorificSuffix',
  'emails',
  'phoneNumbers',
]);
const ENTERPRISE_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const ENTERPRISE_PATHS = [
  'employeeNumber',
  'costCenter',
  'organization',
  'division',
  'department',
  'manager',
];
/** `urn:<nid>:<nss>:<attribute>`: a schema URN of the app's own and one simple attribute of it. */
const CUSTOM_PATH = /^urn:[a-z0-9][a-z0-9-]{0,31}:[A-Za-z0-9._:-]+:[A-Za-z][A-Za-z0-9_]{0,63}$/;
const MULTI_VALUED_PATHS = new Set(['emails', 'phoneNumbers']);
const MULTI_VALUED_SOURCES = new Set<DirectorySource>(['emails', 'phoneNumbers']);

/** Why a mapping entry cannot be written, or undefined when it can. */
function mappingProblem(path: string, source: DirectorySource | null): string | undefined {
  const enterprise = path.startsWith(`${ENTERPRISE_USER}:`);
  if (enterprise && !ENTERPRISE_PATHS.includes(path.slice(ENTERPRISE_USER.length + 1)))
    return `the enterprise extension has no attribute ${path.slice(ENTERPRISE_USER.length + 1)}`;
  if (!enterprise && !CORE_USER_PATHS.has(path) && !CUSTOM_PATH.test(path))
    return 'not a core User attribute, an enterprise extension attribute, or urn:…:<attribute> of a custom schema';
  if (path === 'userName' && source !== 'userName') return 'userName is always the directory userName';
  if (path === 'active' && source !== 'active') return 'active is always the directory active flag';
  if (source === null) return undefined;
  if (source === 'active' && path !== 'active') return 'active only maps to active';
  if (
    MULTI_VALUED_PATHS.has(path) !==
    (MULTI_VALUED_SOURCES.has(source) || source === 'primaryEmail' || source === 'primaryPhoneNumber')
  )
    return MULTI_VALUED_PATHS.has(path)
      ? `${path} is multi-valued: map emails, primaryEmail, phoneNumbers or primaryPhoneNumber to it`
      : `${source} is multi-valued: it maps only to emails or phoneNumbers`;
  if ((source === 'manager') !== (path === `${ENTERPRISE_USER}:manager`))
    return 'manager maps only to the enterprise manager (a reference to the manager in the app)';
  return undefined;
}

/**
 * Which SCIM attribute of a User each directory field is written to, per app, over its profile's defaults: core
 * attributes (`title`), the enterprise extension (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`)
 * or a schema of the app's own (`urn:acme:params:scim:schemas:extension:acme:2.0:User:costCenter`). `null` takes a
 * profile's attribute out. `externalId` is always scimflow's id of the user, so it is not mapped.
 */
export const attributeMappingSchema = z
  .record(z.string().max(256), z.enum(directorySources).nullable())
  .superRefine((mapping, context) => {
    for (const [path, source] of Object.entries(mapping)) {
      const problem = mappingProblem(path, source);
      if (problem) context.addIssue({ code: z.ZodIssueCode.custom, path: [path], message: problem });
    }
    if (Object.keys(mapping).length > 64)
      context.addIssue({ code: z.ZodIssueCode.custom, message: 'at most 64 attributes' });
  });
