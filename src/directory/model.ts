import { z } from 'zod';
import { DEFAULT_DELETION_MINIMUM } from './deletionGuard';
import { isCredentialText, isPlainText } from './names';
import { attributeMappingSchema, profileNameSchema, rateLimitSchema } from './targetSettings';

/**
 * The directory's records and the API's input shapes, in one place: the API validates with these schemas, the
 * store and workflows use their types, and the OpenAPI document is generated from them.
 */

const plainTextMessage = 'must not contain control characters (CR, LF, TAB, NUL…) or bidi overrides';
/** Free text of a record (a title, a phone number): one line, no control characters, at most `max` long. */
const text = (max: number) => z.string().refine(isPlainText, plainTextMessage).max(max);
/**
 * A name people and apps tell records apart by (userName, a group's displayName, a role's name): plain text,
 * trimmed, stored NFC-normalized (so a target receives one spelling of it), unique under `nameKey` (names.ts).
 * Control characters are refused before trimming: a trailing CRLF is a mistake to report, not to hide.
 */
const name = (max = 256) =>
  z.string().refine(isPlainText, plainTextMessage).trim().normalize('NFC').min(1).max(max);

/**
 * Ids of users, groups and apps are UUIDs scimflow assigns; any id given in a path, query or body is held to a
 * safe charset and length, so it can be echoed, logged and put in a Temporal visibility query as it is.
 */
export const idSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, 'an id is 1–128 letters, digits and . _ : -');

const multiValued = z.object({
  value: text(512).min(1),
  type: text(64).optional(),
  primary: z.boolean().optional(),
});

// Defaults live only in the create schemas: zod keeps a default inside `.partial()`, which would make a PATCH
// that leaves a field out reset it.
const userFields = z
  .object({
    userName: name(),
    name: z
      .object({
        givenName: text(256).optional(),
        familyName: text(256).optional(),
        formatted: text(512).optional(),
      })
      .strict()
      .optional(),
    displayName: text(256).optional(),
    emails: z
      .array(multiValued.extend({ value: z.string().email().max(320) }))
      .max(20)
      .optional(),
    phoneNumbers: z.array(multiValued).max(20).optional(),
    title: text(256).optional(),
    active: z.boolean(),
    externalId: text(256).optional(),
    employeeNumber: text(128).optional(),
    department: text(256).optional(),
    /** Directory id of the user's manager; sent as the enterprise `manager` once the manager exists remotely. */
    manager: text(128).optional(),
  })
  .strict();

export const userAttributesSchema = userFields.extend({ active: z.boolean().default(true) }).strict();
export type UserAttributes = z.infer<typeof userAttributesSchema>;
export const userPatchSchema = userFields.partial().strict();
export type UserPatch = z.infer<typeof userPatchSchema>;

export interface DirectoryUser extends UserAttributes {
  id: string;
  createdAt: string;
  updatedAt: string;
}

export const groupInputSchema = z
  .object({
    displayName: name(),
    memberIds: z.array(idSchema).max(100_000).optional(),
  })
  .strict();
export const groupPatchSchema = groupInputSchema.partial().strict();
export type GroupInput = z.infer<typeof groupInputSchema>;
export type GroupPatch = z.infer<typeof groupPatchSchema>;

export interface DirectoryGroup {
  id: string;
  displayName: string;
  memberIds: string[];
  createdAt: string;
  updatedAt: string;
}

const switchNames = [
  'createUsers',
  'updateUsers',
  'deleteUsers',
  'createGroups',
  'updateGroups',
  'deleteGroups',
  'groupMembership',
  'roles',
  'permissions',
] as const;
/** Pushing roles and entitlements is opt-in: many targets ignore or reject attributes they do not use. */
const switchesOffByDefault: readonly string[] = ['roles', 'permissions'];
/**
 * Each kind of SCIM call, switched on or off per app. `roles` sends a user's roles and `permissions` the
 * permissions of those roles as `entitlements` (both off by default); every other switch is on by default.
 */
export const provisioningSwitchesSchema = z
  .object(
    Object.fromEntries(
      switchNames.map((name) => [name, z.boolean().default(!switchesOffByDefault.includes(name))]),
    ) as { [K in (typeof switchNames)[number]]: z.ZodDefault<z.ZodBoolean> },
  )
  .strict();
const provisioningSwitchesPatchSchema = z
  .object(
    Object.fromEntries(switchNames.map((name) => [name, z.boolean()])) as {
      [K in (typeof switchNames)[number]]: z.ZodBoolean;
    },
  )
  .partial()
  .strict();
export type ProvisioningSwitches = z.infer<typeof provisioningSwitchesSchema>;

/**
 * Credentials go into the `Authorization` header of every SCIM call: a CR or LF there would split the header, so
 * control characters are refused. A bearer token is printable ASCII without spaces (RFC 6750's b64token and every
 * JWT fit), up to 8 KiB for long JWTs; a basic username has no colon (RFC 7617 §2).
 */
const credential = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine(isCredentialText, 'must not contain control characters (CR, LF, TAB, NUL…)');
export const appAuthSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('bearer'),
      token: z
        .string()
        .min(1)
        .max(8192)
        .regex(/^[\x21-\x7e]+$/, 'a bearer token is printable ASCII without spaces or control characters'),
    })
    .strict(),
  z
    .object({
      type: z.literal('basic'),
      username: credential(256).refine(
        (value) => !value.includes(':'),
        'a basic username cannot contain ":"',
      ),
      password: credential(1024),
    })
    .strict(),
]);
export type AppAuth = z.infer<typeof appAuthSchema>;

export const deprovisionModeSchema = z.enum(['deactivate', 'delete']);
export const userMatchAttributeSchema = z.enum(['userName', 'externalId', 'email']);

/**
 * Scheduled reconciliation per app: how often it runs, how many resources a list page asks for, and how many
 * deletions one change may make before it stops and asks for confirmation instead (Entra's accidental-deletion
 * guard; `deletionLimit` in deletionGuard.ts, applied alike to a reconciliation run and to an API change).
 */
const reconcileFields = {
  /** Minutes between scheduled runs; the app's Temporal Schedule `reconcile:<appId>` follows it. */
  intervalMinutes: z.number().int().min(1).max(10_080),
  /** `count` of each `GET /Users` and `GET /Groups` page (RFC 7644 §3.4.2.4). */
  pageSize: z.number().int().min(1).max(1000),
};
/**
 * A deletion is a user deprovisioned, a group deleted, or a membership removed (but for a user the same change
 * deprovisions: a leaver counts once).
 * The limit is `min(count, max(⌊percent % × the app's users⌋, minimum))`.
 */
const deletionThresholdFields = {
  /** Ask for confirmation when a change would make more deletions than this share (%) of the app's users… */
  percent: z.number().min(0).max(100),
  /** …or more than this many, whatever the app's size. */
  count: z.number().int().min(0),
  /**
   * At most this many deletions never need confirmation, however small the app (one leaver of five users is
   * 20 %, not a mass deletion); `count` still caps it.
   */
  minimum: z.number().int().min(0),
};
const defaultDeletionThreshold = { percent: 10, count: 500, minimum: DEFAULT_DELETION_MINIMUM };
export const reconcileSettingsSchema = z
  .object({
    intervalMinutes: reconcileFields.intervalMinutes.default(60),
    pageSize: reconcileFields.pageSize.default(100),
    deletionThreshold: z
      .object({
        percent: deletionThresholdFields.percent.default(defaultDeletionThreshold.percent),
        count: deletionThresholdFields.count.default(defaultDeletionThreshold.count),
        minimum: deletionThresholdFields.minimum.default(defaultDeletionThreshold.minimum),
      })
      .strict()
      .default(defaultDeletionThreshold),
  })
  .strict();
export type ReconcileSettings = z.infer<typeof reconcileSettingsSchema>;
// No defaults here: a PATCH that leaves a field out keeps its value (see the note on userFields).
const reconcileSettingsPatchSchema = z
  .object({
    ...reconcileFields,
    deletionThreshold: z.object(deletionThresholdFields).partial().strict(),
  })
  .partial()
  .strict();

/** Settings as stored, with a PATCH's fields laid over them (nested objects merged, not replaced). */
export function mergeReconcileSettings(
  current: ReconcileSettings | undefined,
  patch: z.infer<typeof reconcileSettingsPatchSchema> | undefined,
): ReconcileSettings {
  const base = reconcileSettingsSchema.parse(current ?? {});
  return {
    ...base,
    ...patch,
    deletionThreshold: { ...base.deletionThreshold, ...patch?.deletionThreshold },
  };
}

export const appInputSchema = z
  .object({
    name: name(),
    // Which addresses it may point at is the target policy's (src/scim/targetPolicy.ts), checked by the API.
    baseUrl: z
      .string()
      .max(2048)
      .url()
      .refine((url) => /^https?:\/\//i.test(url), 'baseUrl must be an http(s) URL'),
    /** Lets this app's baseUrl be a private address (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7). */
    allowPrivateNetwork: z.boolean().default(false),
    auth: appAuthSchema,
    provisioning: provisioningSwitchesSchema.default(provisioningSwitchesSchema.parse({})),
    deprovisionMode: deprovisionModeSchema.default('deactivate'),
    userMatchAttribute: userMatchAttributeSchema.default('userName'),
    /** The kind of app, which sets the defaults of the settings below (see src/provisioning/profiles.ts). */
    profile: profileNameSchema.default('generic'),
    /** Members per group PATCH: AWS IAM Identity Center accepts at most 100, Miro 8,000. Default: the profile's. */
    membershipBatchSize: z.number().int().min(1).max(10_000).optional(),
    /** Requests per minute to this app, shared by every worker; null: none. Default: the profile's. */
    rateLimit: rateLimitSchema.nullable().optional(),
    /** Which directory field goes to which SCIM attribute, over the profile's mapping. */
    attributeMapping: attributeMappingSchema.optional(),
    /** Per-request timeout towards this app. */
    timeoutMs: z.number().int().min(100).max(120_000).default(15_000),
    reconcile: reconcileSettingsSchema.default(reconcileSettingsSchema.parse({})),
  })
  .strict();
export type AppInput = z.infer<typeof appInputSchema>;

export const appPatchSchema = z
  .object({
    name: appInputSchema.shape.name,
    baseUrl: appInputSchema.shape.baseUrl,
    allowPrivateNetwork: z.boolean(),
    auth: appAuthSchema,
    provisioning: provisioningSwitchesPatchSchema,
    deprovisionMode: deprovisionModeSchema,
    userMatchAttribute: userMatchAttributeSchema,
    profile: profileNameSchema,
    membershipBatchSize: z.number().int().min(1).max(10_000).nullable(),
    /** null: no limit; "profile": the profile's again. */
    rateLimit: z.union([rateLimitSchema, z.literal('profile')]).nullable(),
    attributeMapping: attributeMappingSchema,
    timeoutMs: z.number().int().min(100).max(120_000),
    reconcile: reconcileSettingsPatchSchema,
  })
  .partial()
  .strict();
export type AppPatch = z.infer<typeof appPatchSchema>;

/** An app as the directory keeps it. `auth` holds secrets: it never leaves the store through the API or logs. */
export interface DirectoryApp extends AppInput {
  id: string;
  createdAt: string;
  updatedAt: string;
}

/** What everyone but the SCIM transport may see of an app. */
export type AppSettings = Omit<DirectoryApp, 'auth'> & { authType: AppAuth['type'] };

export function withoutSecrets(app: DirectoryApp): AppSettings {
  const { auth, ...settings } = app;
  return { ...settings, authType: auth.type };
}

export type ResourceType = 'User' | 'Group';
/**
 * `imported`: linked by an import from the app and not provisioned since; reconciliation leaves such a user alone
 * while it is in no assigned group (it only came from the app), and manages it once it is in scope.
 */
export type LinkStatus = 'synced' | 'deprovisioned' | 'failed' | 'imported';

/** (app, resource type, directory id) → the id the app gave the object, and what was last written there. */
export interface RemoteLink {
  appId: string;
  resourceType: ResourceType;
  localId: string;
  remoteId: string | null;
  /** The SCIM attributes as last written (or adopted), diffed against the desired state to write only changes. */
  lastPushed: Record<string, unknown> | null;
  status: LinkStatus;
  lastError: string | null;
  updatedAt: string;
}

export const permissionKeySchema = z
  .string()
  .trim()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:/-]+$/, 'letters, digits and . _ : / - only');

export const permissionInputSchema = z
  .object({
    /** e.g. `billing.read`: sent to apps as an entitlement value. */
    key: permissionKeySchema,
    description: z.string().max(1024).optional(),
  })
  .strict();
export type PermissionInput = z.infer<typeof permissionInputSchema>;
export interface Permission extends PermissionInput {
  createdAt: string;
}

export const roleInputSchema = z
  .object({
    name: name(),
    permissionKeys: z.array(permissionKeySchema).max(10_000).default([]),
    groupIds: z.array(idSchema).max(10_000).default([]),
  })
  .strict();
export const rolePatchSchema = z
  .object({ name: roleInputSchema.shape.name, permissionKeys: z.array(permissionKeySchema).max(10_000) })
  .partial()
  .strict();
export type RoleInput = z.input<typeof roleInputSchema>;
export type RolePatch = z.infer<typeof rolePatchSchema>;
export interface Role {
  id: string;
  name: string;
  permissionKeys: string[];
  groupIds: string[];
  createdAt: string;
  updatedAt: string;
}

export const appPermissionsSchema = z.object({ keys: z.array(permissionKeySchema).max(10_000) }).strict();

/** A user's effective access: the roles of all their groups, and the union of those roles' permissions. */
export interface EffectiveAccess {
  roles: string[];
  permissions: string[];
}

/** What a reconciliation run is doing or ended as. */
export type ReconciliationStatus = 'running' | 'completed' | 'needs-confirmation' | 'failed';

/**
 * How a run's objects are counted. The first seven are the report's promise; `deferred` (left alone because an
 * intent for it was queued or running), `skipped` (its kind of call is switched off for the app) and `imported`
 * (linked by an import, in no assigned group) say why an object that differs was not repaired.
 */
export const reconciliationCategories = [
  'created',
  'updated',
  'deprovisioned',
  'membershipsFixed',
  'unchanged',
  'unmanaged',
  'errors',
  'deferred',
  'skipped',
  'imported',
] as const;
export type ReconciliationCategory = (typeof reconciliationCategories)[number];

/** One object in a report: a user or group, by its directory id and/or remote id. */
export interface ReconciledObject {
  resourceType: ResourceType;
  /** Directory id; null for objects of the app that no directory record is linked to. */
  id: string | null;
  remoteId: string | null;
  /** userName or displayName */
  name: string;
  /** What was (or would be) done, e.g. `title, emails`, `re-created: gone from the app`, `+2 −1 members`. */
  detail?: string;
  error?: string;
}

/** The report of one `reconcileApp` run: stored, returned by the workflow, and served by the API. */
export interface ReconciliationReport {
  workflowId: string;
  appId: string;
  status: ReconciliationStatus;
  /** No write was sent: counts and objects say what the run would have done. */
  dryRun: boolean;
  confirmDeletions: boolean;
  startedAt: string;
  finishedAt: string | null;
  counts: Record<ReconciliationCategory, number>;
  /** The objects of each category (not `unchanged`), at most 1000 each. */
  objects: Partial<Record<ReconciliationCategory, ReconciledObject[]>>;
  /** Categories whose object list was cut at 1000 (their count is complete). */
  truncated: ReconciliationCategory[];
  /** The deletion safeguard: the deletions the run would make, against the app's threshold. */
  deletionSafeguard: {
    /** Users to deprovision (deactivate or delete). */
    wouldDeprovision: number;
    /** Groups to delete from the app. */
    wouldDeleteGroups: number;
    /** Members to remove from the app's groups, but for users the run deprovisions (counted once, above). */
    wouldRemoveMemberships: number;
    /** The three together: what is held against `limit`. */
    total: number;
    /** Users of the app that scimflow manages. */
    appUsers: number;
    /** The most deletions a run may make without confirmation (`deletionLimit`). */
    limit: number;
    exceeded: boolean;
  } | null;
  /** HTTP requests the run sent to the app: list pages, single reads, writes. */
  requests: { list: number; read: number; write: number };
  /**
   * Attributes the app keeps its own way (it derives, normalises or ignores them: `changed`, `ignored`, `kept`),
   * with how many objects each: scimflow does not write those values, and counts such objects as unchanged.
   */
  appManagedAttributes: {
    resourceType: ResourceType;
    attribute: string;
    reason: 'changed' | 'ignored' | 'kept';
    objects: number;
  }[];
  error: string | null;
}
