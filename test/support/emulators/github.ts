/**
 * GitHub Enterprise Managed Users' SCIM API, as documented in "Provisioning users and groups with SCIM using the
 * REST API" (https://docs.github.com/en/enterprise-cloud@latest/admin/managing-iam/provisioning-user-accounts-with-scim/provisioning-users-and-groups-with-scim-using-the-rest-api)
 * and the endpoint reference "REST API endpoints for SCIM" (https://docs.github.com/en/enterprise-cloud@latest/rest/enterprise-admin/scim).
 */
import {
  isObject,
  onlyEqualityFilters,
  refusal,
  scimError,
  withoutAttributes,
  writeNormalisedUser,
  writes,
  type Emulation,
  type PlainObject,
  type Rule,
} from './core';
import { WriteRateLimit } from './rateLimit';

const APP = 'GitHub EMU';

export interface GithubOptions {
  /**
   * Writes per hour. The guide asks integrations to stay under 1,000 user assignments an hour ("Rate limits"
   * under "Using the REST API"); the emulator meters every write against that budget, refilled evenly over the
   * hour, with the whole budget available at once.
   */
  hourlyWriteBudget?: number;
}

// "Provision a SCIM enterprise user" (rest/enterprise-admin/scim): userName, externalId, emails and the name
// parts must be sent. Not confirmed word for word here: the stored copy of the reference was not readable in
// full; the reference may also require displayName and active.
const requiredOnCreate: Rule = (request) => {
  if (!writes(request, 'Users', 'POST') || !isObject(request.body)) return undefined;
  const user = request.body;
  const name = isObject(user.name) ? user.name : {};
  const present = (value: unknown) => typeof value === 'string' && value !== '';
  const missing = [
    ['userName', present(user.userName)],
    ['externalId', present(user.externalId)],
    ['emails', Array.isArray(user.emails) && user.emails.length > 0],
    ['name.givenName', present(name.givenName)],
    ['name.familyName', present(name.familyName)],
  ]
    .filter(([, ok]) => !ok)
    .map(([attribute]) => attribute);
  return missing.length
    ? refusal(400, `${APP} requires ${missing.join(', ')} to create a user`, 'invalidValue')
    : undefined;
};

// Lookups by `userName eq` or `externalId eq` only ("List SCIM provisioned identities for an enterprise",
// `filter`), groups by displayName or externalId ("List provisioned SCIM groups for an enterprise"); as the
// profile's source says (profiles.ts), not re-read here.
const filters = onlyEqualityFilters(APP, {
  Users: ['userName', 'externalId'],
  Groups: ['displayName', 'externalId'],
});

/** GitHub keeps no SCIM roles/entitlements of its own for this profile: they are dropped, not refused. */
function githubUser(user: PlainObject): PlainObject {
  return withoutAttributes(user, ['roles', 'entitlements']);
}

export function githubEmu(options: GithubOptions = {}): Emulation {
  const budget = options.hourlyWriteBudget ?? 1000;
  return {
    rateLimit: new WriteRateLimit({
      perMinute: budget / 60,
      burst: Math.max(1, Math.floor(budget)),
      applies: 'writes',
    }),
    rules: [filters, requiredOnCreate],
    handle: async (request, app) => {
      if (writes(request, 'Users', 'POST') && isObject(request.body)) {
        // "409 Conflict" when a user with the userName or externalId exists (scimmy checks userName itself).
        const externalId = request.body.externalId;
        const taken = app.server
          .users()
          .some((user) => typeof externalId === 'string' && user.externalId === externalId);
        if (taken) {
          return {
            status: 409,
            body: scimError(409, `${APP}: a user with externalId ${String(externalId)} exists`, 'uniqueness'),
          };
        }
      }
      if (writes(request, 'Users', 'POST', 'PUT', 'PATCH'))
        return writeNormalisedUser(request, app, githubUser);
      return app.forward(request);
    },
  };
}
