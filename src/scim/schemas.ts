import { z } from 'zod';

/** RFC 7643/7644 URNs used on the wire. */
export const SCIM_SCHEMAS = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  enterpriseUser: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  listResponse: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  patchOp: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  error: 'urn:ietf:params:scim:api:messages:2.0:Error',
} as const;

const multiValuedAttribute = z
  .object({ value: z.string().optional(), type: z.string().optional(), primary: z.boolean().optional() })
  .passthrough();

/** What scimflow reads back from a target: lenient, because targets add and omit attributes freely. */
export const scimUserSchema = z
  .object({
    id: z.string().min(1),
    userName: z.string(),
    externalId: z.string().nullish(),
    active: z.union([z.boolean(), z.string()]).nullish(),
    emails: z.array(multiValuedAttribute).nullish(),
  })
  .passthrough();
export type ScimUser = z.infer<typeof scimUserSchema>;

export const scimMemberSchema = z.object({ value: z.string(), display: z.string().optional() }).passthrough();

export const scimGroupSchema = z
  .object({
    id: z.string().min(1),
    displayName: z.string(),
    externalId: z.string().nullish(),
    // Some targets answer `members: null` (field notes), or leave it out on reads with excludedAttributes.
    members: z.array(scimMemberSchema).nullish(),
  })
  .passthrough();
export type ScimGroup = z.infer<typeof scimGroupSchema>;

export function listResponseSchema<T extends z.ZodTypeAny>(resource: T) {
  return z
    .object({
      // Optional under cursor paging (RFC 9865 §3): AWS IAM Identity Center leaves it out.
      totalResults: z.coerce.number().int().min(0).optional(),
      startIndex: z.coerce.number().int().optional(),
      itemsPerPage: z.coerce.number().int().optional(),
      /** RFC 9865: where the next page starts; absent on the last page. */
      nextCursor: z.string().max(4096).nullish(),
      Resources: z.array(resource).nullish(),
    })
    .passthrough();
}

const supported = z.object({ supported: z.boolean() }).passthrough();

export const serviceProviderConfigSchema = z
  .object({
    patch: supported.optional(),
    bulk: supported
      .extend({ maxOperations: z.number().optional(), maxPayloadSize: z.number().optional() })
      .optional(),
    filter: supported.extend({ maxResults: z.number().optional() }).optional(),
    changePassword: supported.optional(),
    sort: supported.optional(),
    etag: supported.optional(),
    authenticationSchemes: z.array(z.object({ type: z.string().optional() }).passthrough()).optional(),
  })
  .passthrough();
export type ServiceProviderConfig = z.infer<typeof serviceProviderConfigSchema>;

export const scimErrorBodySchema = z
  .object({
    status: z.union([z.string(), z.number()]).optional(),
    scimType: z.string().optional(),
    detail: z.string().optional(),
  })
  .passthrough();

export type PatchOperation =
  { op: 'add' | 'replace'; path?: string; value: unknown } | { op: 'remove'; path: string; value?: unknown };

/** A resource as scimflow writes it: no id, no meta. */
export type ScimUserPayload = Record<string, unknown> & { schemas: string[]; userName: string };
export type ScimGroupPayload = {
  schemas: string[];
  displayName: string;
  externalId?: string;
  members?: { value: string }[];
};
