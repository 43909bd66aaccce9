/**
 * An app built for, and tested only with, Microsoft Entra ID provisioning: it understands what Entra sends and
 * nothing more. What Entra sends is documented in "Tutorial: Develop and plan provisioning for a SCIM endpoint"
 * (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups, the
 * "Request examples" and "Build a SCIM endpoint" sections) and in "Known issues and resolutions with SCIM 2.0
 * protocol compliance" (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility).
 */
import {
  isObject,
  onlyEqualityFilters,
  patchOperations,
  refusal,
  type Emulation,
  type PlainObject,
  type Rule,
} from './core';

const APP = 'An Entra-compatible app';

// Entra removes a member with `{"op":"Remove","path":"members","value":[{"value":"<id>"}]}` (the "Update Group
// [Remove Members]" request example) unless the tenant opts in to the aadOptscim062020 behaviour; an app tested
// only against it never has to parse a value filter in a PATCH path (`members[value eq "…"]`,
// `emails[type eq "work"].value`).
const noValueFilterInPatchPaths: Rule = (request) => {
  if (request.method !== 'PATCH') return undefined;
  const filtered = patchOperations(request.body).find((operation) => operation.path?.includes('['));
  return filtered
    ? refusal(400, `${APP} does not parse value filters in PATCH paths ("${filtered.path}")`, 'invalidPath')
    : undefined;
};

// Entra looks users up with `userName eq` or `externalId eq` and groups with `displayName eq` ("Get User by
// query", "Get Group by displayName"); "only eq and and" are used ("Build a SCIM endpoint": "filter … eq").
const filters = onlyEqualityFilters(APP, {
  Users: ['userName', 'externalId'],
  Groups: ['displayName'],
});

/**
 * Entra capitalises op names (`Add`, `Replace`, `Remove`) and older tenants send booleans as "True"/"False"
 * strings (application-provisioning-config-problem-scim-compatibility); an app built for it accepts both.
 * scimmy already reads op names in any case; the string booleans are made real before it sees them.
 */
function withRealBooleans(body: unknown): unknown {
  if (!isObject(body) || !Array.isArray(body.Operations)) return body;
  const booleanOf = (value: unknown) =>
    typeof value === 'string' && /^(true|false)$/i.test(value) ? value.toLowerCase() === 'true' : value;
  return {
    ...body,
    Operations: body.Operations.map((operation: unknown) => {
      if (!isObject(operation)) return operation;
      const path = typeof operation.path === 'string' ? operation.path.toLowerCase() : undefined;
      if (path === 'active') return { ...operation, value: booleanOf(operation.value) };
      if (path === undefined && isObject(operation.value) && 'active' in operation.value) {
        const value: PlainObject = { ...operation.value, active: booleanOf(operation.value.active) };
        return { ...operation, value };
      }
      return operation;
    }),
  };
}

export function entraCompatible(): Emulation {
  return {
    rules: [filters, noValueFilterInPatchPaths],
    handle: (request, app) =>
      request.method === 'PATCH'
        ? app.forward(request, withRealBooleans(request.body))
        : app.forward(request),
  };
}
