import { z } from 'zod';
import {
  appInputSchema,
  groupInputSchema,
  permissionInputSchema,
  reconciliationCategories,
  roleInputSchema,
  userAttributesSchema,
} from '../directory/model';
import { attributeMappingSchema, profileNameSchema, rateLimitSchema } from '../directory/targetSettings';
import { intentNames } from '../shared/intents';
import { listedStatuses } from './operations';

/**
 * What each route answers, for `schema.response`: the OpenAPI document (`GET /api/openapi.json`) is generated from
 * these, and fastify-type-provider-zod serializes every answer through the schema of its status. So they describe
 * what the routes really return: records are loose (a field the schema does not name is passed on, not dropped),
 * and a stored value is never checked again on the way out (see `relaxed`).
 */

type Shape = Record<string, z.ZodType>;

/**
 * An object that answers every field it is given, typed as the plain object (so a record's TypeScript interface,
 * which has no index signature, still fits it).
 */
export const loose = <S extends Shape>(shape: S) => z.looseObject(shape) as unknown as z.ZodObject<S>;

/**
 * The shape of an input schema as the API answers it: the same fields, types, enums and nesting, without the input's
 * checks (lengths, patterns, plain-text rules) and defaults. A stored record passed those checks when it was written,
 * but a rule made stricter since must not turn the reading of an older record into a 500; a field with a default
 * may be missing from a record stored before it existed, so it is optional here. Objects are loose: whatever a
 * record carries is answered, as without a schema.
 */
export function relaxed<T extends z.ZodType>(schema: T): T {
  return relax(schema) as unknown as T;
}

function relax(schema: z.ZodType): z.ZodType {
  const def = (schema as unknown as { _zod: { def: { type: string } & Record<string, unknown> } })._zod.def;
  switch (def.type) {
    case 'string':
      return z.string();
    case 'number':
      return z.number();
    case 'boolean':
      return z.boolean();
    case 'null':
      return z.null();
    case 'unknown':
      return z.unknown();
    case 'enum':
    case 'literal':
      return schema;
    case 'optional':
      return relax(def.innerType as z.ZodType).optional();
    case 'nullable':
      return relax(def.innerType as z.ZodType).nullable();
    case 'default':
    case 'prefault':
      return relax(def.innerType as z.ZodType).optional();
    case 'array':
      return z.array(relax(def.element as z.ZodType));
    case 'record':
      return z.record(z.string(), relax(def.valueType as z.ZodType));
    case 'object':
      return z.looseObject(relaxShape(def.shape as Shape));
    case 'union': {
      const options = (def.options as z.ZodType[]).map(relax) as [z.ZodType, z.ZodType, ...z.ZodType[]];
      return typeof def.discriminator === 'string'
        ? z.discriminatedUnion(
            def.discriminator,
            options as unknown as [z.ZodObject, z.ZodObject, ...z.ZodObject[]],
          )
        : z.union(options);
    }
    default:
      throw new Error(`relaxed: no response form for a zod ${def.type}`);
  }
}

function relaxShape(shape: Shape): Shape {
  return Object.fromEntries(Object.entries(shape).map(([key, value]) => [key, relax(value)]));
}

const timestamp = z.string().describe('ISO 8601 time');
const ids = z.array(z.string());

// ——— errors ———

const message = z.string();
/** 400: the request did not pass the route's schema (body, path or query); the first 20 issues, and their count. */
export const invalidRequestBody = z.object({
  error: z.literal('invalid-request'),
  message,
  issues: z.array(z.object({ path: z.string(), message: z.string() })),
  issueCount: z.number().int(),
});
/** 400: the app's settings ask for what its profile says the app cannot do. */
export const profileConflictBody = z.object({
  error: z.literal('profile-conflict'),
  message,
  problems: z.array(z.string()),
});
/** 400: the app's baseUrl is refused by the target policy; nothing was stored. */
export const unsafeTargetBody = z.object({
  error: z.literal('unsafe-target'),
  rule: z.enum([
    'invalid-url',
    'https-required',
    'credentials-in-url',
    'metadata-address',
    'link-local-address',
    'unspecified-address',
    'reserved-address',
    'loopback-address',
    'private-address',
  ]),
  message,
});
/** 400: a body names a record that does not exist (a member id, a group id…). */
export const unknownReferenceBody = z.object({ error: z.literal('unknown-reference'), message });
/** 400 (a body that is not JSON), 413 (a body over the limit) and other client errors. */
export const badRequestBody = z.object({ error: z.literal('bad-request'), message });
export const badRequestResponse = z
  .discriminatedUnion('error', [
    invalidRequestBody,
    profileConflictBody,
    unsafeTargetBody,
    unknownReferenceBody,
    badRequestBody,
  ])
  .describe('Invalid request');
export const unauthorizedResponse = z
  .object({ error: z.literal('unauthorized'), message })
  .describe('Missing or wrong bearer token');
export const notFoundResponse = z
  .object({ error: z.literal('not-found'), message })
  .describe('No such record');
/** 409: a unique name is taken, or a reconciliation of the app is running (its `workflowId`). */
export const conflictBody = z.object({
  error: z.literal('conflict'),
  message,
  workflowId: z.string().optional(),
});
/** 409: the change would take away more in an app than its deletion threshold allows; repeat with confirmDeletions. */
export const deletionsNeedConfirmationBody = z.object({
  error: z.literal('deletions-need-confirmation'),
  message,
  apps: z.array(
    z.object({
      appId: z.string(),
      appName: z.string(),
      users: z.number(),
      groups: z.number(),
      memberships: z.number(),
      total: z.number(),
      limit: z.number(),
    }),
  ),
});
export const conflictResponse = z
  .discriminatedUnion('error', [conflictBody, deletionsNeedConfirmationBody])
  .describe('Conflict');
export const payloadTooLargeResponse = badRequestBody.describe('The body is over the limit');
export const unsupportedMediaTypeResponse = z
  .object({ error: z.literal('unsupported-media-type'), message })
  .describe('The body is not JSON');
export const internalErrorResponse = z
  .object({ error: z.literal('internal'), message })
  .describe('Internal error; see the server log');

const errorSchemas = {
  400: badRequestResponse,
  401: unauthorizedResponse,
  404: notFoundResponse,
  409: conflictResponse,
  413: payloadTooLargeResponse,
  415: unsupportedMediaTypeResponse,
  500: internalErrorResponse,
};
type ErrorStatus = keyof typeof errorSchemas;

const pick = <S extends ErrorStatus>(statuses: S[]) =>
  Object.fromEntries(
    [...new Set(statuses)].sort((a, b) => a - b).map((status) => [status, errorSchemas[status]]),
  ) as Pick<typeof errorSchemas, S>;

/** The error answers of a route that reads no body: 401 and 500, and those named (400 for a path or a query). */
export const readErrors = <S extends ErrorStatus = never>(...statuses: S[]) =>
  pick<S | 401 | 500>([401, 500, ...statuses]);

/**
 * The error answers of a route that may be sent a body (any method but GET): 400 (a body that is not JSON or
 * fails the schema), 401, 413, 415 and 500, and those named.
 */
export const writeErrors = <S extends ErrorStatus = never>(...statuses: S[]) =>
  pick<S | 400 | 401 | 413 | 415 | 500>([400, 401, 413, 415, 500, ...statuses]);

// ——— intents ———

/** An intent a change issued: `queued` in the outbox, or `delivered` to its lane. */
export const dispatchedIntentSchema = z.object({
  workflowId: z.string(),
  appId: z.string(),
  intent: z.enum(intentNames),
  status: z.enum(['queued', 'delivered']),
});
const operations = z.array(dispatchedIntentSchema);

/** An intent's run, as `GET /api/operations` lists it; retry fields while `retrying`, queue fields while `queued`. */
export const operationViewSchema = loose({
  workflowId: z.string(),
  appId: z.string(),
  intent: z.string(),
  resourceType: z.string(),
  resourceId: z.string(),
  status: z.enum(['queued', ...listedStatuses]),
  startTime: timestamp.nullable(),
  closeTime: timestamp.nullable(),
  /** A completed intent's result; an import's carries its counts too. */
  result: loose({ outcome: z.enum(['written', 'unchanged', 'skipped']), detail: z.string() }).optional(),
  error: z.string().optional(),
  queuedIn: z.enum(['outbox', 'lane']).optional(),
  deliveryAttempts: z.number().int().optional(),
  lastDeliveryError: z.string().nullable().optional(),
  retryingActivity: z.string().optional(),
  attempt: z.number().int().optional(),
  lastError: z.string().nullable().optional(),
  lastAttemptAt: timestamp.nullable().optional(),
  nextAttemptAt: timestamp.nullable().optional(),
  uiUrl: z.string(),
});

// ——— users, groups ———

const recordFields = { id: z.string(), createdAt: timestamp, updatedAt: timestamp };

/** A directory user: its attributes (as `POST /api/users` takes them) and id and times. */
export const userSchema = relaxed(userAttributesSchema).extend({ active: z.boolean(), ...recordFields });
export const userWithGroupsSchema = userSchema.extend({ groupIds: ids });
export const userWithAccessSchema = userWithGroupsSchema.extend({
  /** The names of the roles of all the user's groups. */
  roles: z.array(z.string()),
  /** The union of those roles' permission keys. */
  permissions: z.array(z.string()),
});
export const userChangeSchema = userWithGroupsSchema.extend({ operations });
export const userDeletedSchema = userChangeSchema.extend({ deleted: z.boolean().describe('always true') });
export const userPageSchema = z.object({
  items: z.array(userWithGroupsSchema),
  total: z.number().int(),
  offset: z.number().int(),
  limit: z.number().int(),
});

/** A directory group, with its member ids and the apps it is assigned to. */
export const groupSchema = relaxed(groupInputSchema).extend({
  memberIds: ids,
  ...recordFields,
  appIds: ids,
});
export const groupChangeSchema = groupSchema.extend({ operations });
export const groupDeletedSchema = groupChangeSchema.extend({ deleted: z.boolean().describe('always true') });
export const groupPageSchema = z.object({
  items: z.array(groupSchema),
  total: z.number().int(),
  offset: z.number().int(),
  limit: z.number().int(),
});

// ——— roles, permissions ———

export const permissionSchema = relaxed(permissionInputSchema).extend({ createdAt: timestamp });
export const permissionCreatedSchema = permissionSchema.extend({ operations });
export const permissionListSchema = z.object({ items: z.array(permissionSchema) });
export const permissionDeletedSchema = z.object({
  key: z.string(),
  deleted: z.boolean().describe('always true'),
  operations,
});

export const roleSchema = relaxed(roleInputSchema).extend({
  permissionKeys: z.array(z.string()),
  groupIds: ids,
  ...recordFields,
});
export const roleChangeSchema = roleSchema.extend({ operations });
export const roleDeletedSchema = roleChangeSchema.extend({ deleted: z.boolean().describe('always true') });
export const roleListSchema = z.object({ items: z.array(roleSchema) });

// ——— apps ———

const appManagedSummarySchema = z.object({
  resourceType: z.enum(['User', 'Group']),
  attribute: z.string(),
  reason: z.enum(['changed', 'ignored', 'kept']),
  objects: z.number().int(),
});

/** An app's settings as stored, without its credentials (`authType` says which kind it has). */
export const appSettingsSchema = relaxed(appInputSchema.omit({ auth: true })).extend({
  allowPrivateNetwork: z.boolean(),
  // A PATCH with null goes back to the profile's batch size.
  membershipBatchSize: z.number().nullable().optional(),
  authType: z.enum(['bearer', 'basic']),
  ...recordFields,
});
/** An app as `GET /api/apps/{id}` shows it: its settings, what its profile makes of them, its groups and permissions. */
export const appViewSchema = appSettingsSchema.extend({
  /** The profile in effect (`generic` for an app stored without one). */
  profile: profileNameSchema,
  effective: z.object({
    membershipBatchSize: z.number(),
    memberRemoval: z.enum(['value-filter', 'value-list']),
    userUpdates: z.enum(['patch', 'put']),
    groupUpdates: z.enum(['patch', 'put']),
    activeWrite: z.enum(['path', 'value-object']),
    deletesUsers: z.boolean(),
    groupMembersReadable: z.boolean(),
    paging: z.enum(['index', 'cursor']),
    rateLimit: relaxed(rateLimitSchema).nullable(),
    attributeMapping: relaxed(attributeMappingSchema),
  }),
  appManagedAttributes: z.array(appManagedSummarySchema),
  assignedGroupIds: ids,
  permissionKeys: z.array(z.string()),
});
export const appChangeSchema = appViewSchema.extend({ operations });
export const appListSchema = z.object({ items: z.array(appViewSchema) });
export const appDeletedSchema = appSettingsSchema.extend({
  deleted: z.boolean().describe('always true'),
  operations,
});
export const assignmentSchema = z.object({
  appId: z.string(),
  groupId: z.string(),
  assigned: z.boolean(),
  operations,
});
export const forgottenSchema = z.object({
  /** How many app-managed attributes were forgotten. */
  forgotten: z.number().int(),
});

const filterProbe = z.enum(['works', 'refused', 'not-tried']);
/** What `POST /api/apps/{id}/test-connection` found: each step, the app's capabilities, the profile that fits. */
export const connectionReportSchema = loose({
  ok: z.boolean(),
  reachable: z.boolean(),
  authenticated: z.boolean(),
  capabilities: loose({
    patch: z.boolean(),
    filter: z.boolean(),
    bulk: z.boolean(),
    etag: z.boolean(),
    maxResults: z.number().optional(),
  }).optional(),
  usersEndpoint: loose({ ok: z.boolean(), totalResults: z.number().optional() }).optional(),
  filters: loose({ externalId: filterProbe, email: filterProbe }).optional(),
  proposedProfile: loose({ profile: profileNameSchema, reasons: z.array(z.string()) }).optional(),
  error: loose({
    step: z.enum(['ServiceProviderConfig', 'Users']),
    status: z.number().int().optional(),
    message: z.string(),
  }).optional(),
});

/** What scimflow wrote to the app for one user or group (`lastPushed`: the SCIM attributes as last written). */
export const remoteLinkSchema = loose({
  appId: z.string(),
  resourceType: z.enum(['User', 'Group']),
  localId: z.string(),
  remoteId: z.string().nullable(),
  lastPushed: z.record(z.string(), z.unknown()).nullable(),
  status: z.enum(['synced', 'deprovisioned', 'failed', 'imported']),
  lastError: z.string().nullable(),
  updatedAt: timestamp,
  /** The attributes of this object the app keeps its own way (values are not shown). */
  appManaged: z.array(
    z.object({
      attribute: z.string(),
      reason: z.enum(['changed', 'ignored', 'kept']),
      detectedAt: timestamp,
    }),
  ),
});
export const linkListSchema = z.object({ items: z.array(remoteLinkSchema) });

// ——— reconciliation, import ———

export const reconcileStartedSchema = z.object({
  workflowId: z.string(),
  appId: z.string(),
  dryRun: z.boolean(),
  confirmDeletions: z.boolean(),
  /** The report's URL in this API. */
  report: z.string(),
  uiUrl: z.string(),
});

export const scheduleSchema = loose({
  scheduleId: z.string(),
  appId: z.string(),
  intervalMinutes: z.number().nullable(),
  paused: z.boolean(),
  note: z.string().nullable(),
  nextRunAt: timestamp.nullable(),
  recentRuns: z.array(loose({ workflowId: z.string(), scheduledAt: timestamp })),
  runningRuns: z.array(z.string()),
});

const category = z.enum(reconciliationCategories);
const reconciledObjectSchema = loose({
  resourceType: z.enum(['User', 'Group']),
  id: z.string().nullable(),
  remoteId: z.string().nullable(),
  name: z.string(),
  detail: z.string().optional(),
  error: z.string().optional(),
});
/**
 * A reconciliation run's report. Reports are stored as the run ended, so fields added since are optional: a report
 * of an older run is answered as it was stored.
 */
export const reconciliationReportSchema = loose({
  workflowId: z.string(),
  appId: z.string(),
  status: z.enum(['running', 'completed', 'needs-confirmation', 'failed']),
  dryRun: z.boolean(),
  confirmDeletions: z.boolean(),
  startedAt: timestamp,
  finishedAt: timestamp.nullable(),
  counts: z.partialRecord(category, z.number().int()),
  /** The objects of each category (not `unchanged`), at most 1000 each. */
  objects: z.partialRecord(category, z.array(reconciledObjectSchema)),
  truncated: z.array(category).optional(),
  deletionSafeguard: loose({
    wouldDeprovision: z.number(),
    wouldDeleteGroups: z.number(),
    wouldRemoveMemberships: z.number(),
    total: z.number(),
    appUsers: z.number(),
    limit: z.number(),
    exceeded: z.boolean(),
  })
    .nullable()
    .optional(),
  requests: loose({ list: z.number(), read: z.number(), write: z.number() }).optional(),
  appManagedAttributes: z.array(appManagedSummarySchema).optional(),
  error: z.string().nullable(),
  /** The run in the Temporal UI. */
  uiUrl: z.string(),
});
/** Reports in a list leave out their objects. */
export const reconciliationListSchema = z.object({
  items: z.array(reconciliationReportSchema.omit({ objects: true })),
});

export const importStartedSchema = z.object({
  workflowId: z.string(),
  appId: z.string(),
  users: z.boolean(),
  groups: z.boolean(),
  memberships: z.boolean(),
  operations,
});
