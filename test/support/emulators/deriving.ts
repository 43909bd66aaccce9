/**
 * A target of our own that stores users the way many SaaS apps do — not as they were sent — so that an engine
 * which "repairs" every difference it reads back would write forever and never report a user unchanged
 * (../shared/scim-field-notes.md, "What real SCIM servers do": "Many apps derive or normalise attributes
 * (displayName or `name.formatted` from the name parts, lower-cased emails, defaulted `active`)").
 *
 * What it does, and who is known to do the same:
 * - `displayName` and `name.formatted` are derived as "givenName familyName" whenever a name part is present,
 *   overwriting what was sent: apps that keep first and last name and build the display name themselves (the
 *   field notes' "derive … displayName or name.formatted from the name parts").
 * - E-mail values and types are lower-cased: the field notes' "some lowercase email values".
 * - `active` defaults to true when not sent: the field notes' "defaulted active" (RFC 7643 leaves it to the
 *   provider).
 * - `title` is cut to 32 characters: apps with a fixed-width job-title column.
 * - `phoneNumbers` and the enterprise `department` are dropped silently: apps that ignore attributes they do not
 *   hold rather than refusing them (the field notes' opposite case is "some reject undeclared attributes").
 * - PATCH is answered 204 with no body: the field notes' "some return … 204 on a group PATCH" (RFC 7644
 *   §3.5.2 allows 200 with the resource or 204).
 * - POST and PUT answer with the resource as stored (derived), as RFC 7644 §3.3/§3.5.1 say they should.
 */
import {
  ENTERPRISE_USER_SCHEMA,
  isObject,
  withoutAttributes,
  writeNormalisedUser,
  writes,
  type Emulation,
  type PlainObject,
} from './core';

export const DERIVING_TITLE_LENGTH = 32;

/** The user as the deriving target stores it. */
export function derivedUser(user: PlainObject): PlainObject {
  const stored = withoutAttributes(user, ['phoneNumbers']);
  const name = isObject(stored.name) ? { ...stored.name } : undefined;
  if (name && (typeof name.givenName === 'string' || typeof name.familyName === 'string')) {
    const full = [name.givenName, name.familyName]
      .filter((part) => typeof part === 'string' && part !== '')
      .join(' ');
    name.formatted = full;
    stored.name = name;
    stored.displayName = full;
  }
  if (Array.isArray(stored.emails)) {
    stored.emails = stored.emails.map((email: unknown) => {
      if (!isObject(email)) return email;
      const lowered: PlainObject = { ...email };
      if (typeof lowered.value === 'string') lowered.value = lowered.value.toLowerCase();
      if (typeof lowered.type === 'string') lowered.type = lowered.type.toLowerCase();
      return lowered;
    });
  }
  if (stored.active === undefined) stored.active = true;
  if (typeof stored.title === 'string' && stored.title.length > DERIVING_TITLE_LENGTH) {
    stored.title = stored.title.slice(0, DERIVING_TITLE_LENGTH);
  }
  const enterpriseKey = Object.keys(stored).find(
    (key) => key.toLowerCase() === ENTERPRISE_USER_SCHEMA.toLowerCase(),
  );
  if (enterpriseKey && isObject(stored[enterpriseKey])) {
    const enterprise = withoutAttributes(stored[enterpriseKey] as PlainObject, ['department']);
    if (Object.keys(enterprise).length > 0) {
      stored[enterpriseKey] = enterprise;
    } else {
      delete stored[enterpriseKey];
      if (Array.isArray(stored.schemas)) {
        stored.schemas = stored.schemas.filter((schema) => schema !== enterpriseKey);
      }
    }
  }
  return stored;
}

export function deriving(): Emulation {
  return {
    handle: async (request, app) => {
      if (writes(request, 'Users', 'POST', 'PUT', 'PATCH')) {
        const reply = await writeNormalisedUser(request, app, derivedUser);
        return request.method === 'PATCH' && reply.status < 300 ? { status: 204 } : reply;
      }
      if (writes(request, 'Groups', 'PATCH')) {
        const reply = await app.forward(request);
        return reply.status < 300 ? { status: 204 } : reply;
      }
      return app.forward(request);
    },
  };
}
