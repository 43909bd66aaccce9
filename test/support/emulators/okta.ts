/**
 * An app built for Okta provisioning: it handles what Okta sends and refuses what Okta never sends. Okta's side
 * is documented in "SCIM 2.0 protocol" guide, https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20
 * (sections "Create the user" — lookup `filter=userName eq "…"` first; "Update a specific user (PUT)" — profile
 * changes are a GET then a PUT of the whole user; "Update a specific user (PATCH)" — used only to activate or
 * deactivate, `{"op":"replace","value":{"active":false}}`; "Delete Users" — Okta doesn't DELETE users, it sets
 * active false; "Push Groups" — groups by `displayName eq`, then PATCH add/remove of members).
 */
import {
  isObject,
  onlyEqualityFilters,
  patchOperations,
  refusal,
  writes,
  type Emulation,
  type Rule,
} from './core';

const APP = 'An Okta-compatible app';

// "Update a specific user (PATCH)": Okta PATCHes a user only to change `active`, path-less, with the value
// object `{"active": <boolean>}`. The app implements that one form.
const patchUsersOnlyToSetActive: Rule = (request) => {
  if (!writes(request, 'Users', 'PATCH')) return undefined;
  const operations = patchOperations(request.body);
  const onlyActive =
    operations.length > 0 &&
    operations.every(
      (operation) =>
        operation.op === 'replace' &&
        operation.path === undefined &&
        isObject(operation.value) &&
        Object.keys(operation.value).length === 1 &&
        typeof operation.value.active === 'boolean',
    );
  return onlyActive
    ? undefined
    : refusal(
        400,
        `${APP} accepts PATCH /Users only as {"op":"replace","value":{"active":<boolean>}}; profile changes go by PUT`,
        'invalidSyntax',
      );
};

// "Delete Users": "Okta doesn't perform DELETE operations on users" — deprovisioning sets active false, so the
// app has no DELETE /Users endpoint.
const noUserDeletion: Rule = (request) =>
  writes(request, 'Users', 'DELETE')
    ? refusal(405, `${APP} has no DELETE /Users (Okta deactivates users, it never deletes them)`)
    : undefined;

// "Create the user": `GET /Users?filter=userName eq "…"`; "Push Groups": `GET /Groups?filter=displayName eq "…"`.
const filters = onlyEqualityFilters(APP, { Users: ['userName'], Groups: ['displayName'] });

export function oktaCompatible(): Emulation {
  return { rules: [filters, patchUsersOnlyToSetActive, noUserDeletion] };
}
