/**
 * Slack's SCIM API (v2), as documented in the SCIM API reference
 * (https://docs.slack.dev/reference/scim-api/scim-api-2, formerly https://api.slack.com/scim) and its rate-limit
 * page (https://docs.slack.dev/reference/scim-api/rate-limits).
 */
import {
  isObject,
  onlyEqualityFilters,
  refusal,
  withoutAttributes,
  writeNormalisedUser,
  writes,
  type Emulation,
  type PlainObject,
  type Rule,
} from './core';
import { WriteRateLimit } from './rateLimit';

const APP = 'Slack';

export interface SlackOptions {
  /**
   * Writes per minute and burst. Slack's rate-limit page: "Create a user: POST /Users — 180 per minute, bursts
   * of 20"; the same for PUT/PATCH and DELETE /Users/<id>; org-wide, all writes 600 a minute with bursts of 180.
   * 429 answers carry Retry-After ("parse the Retry-After header and retry your request after that time").
   */
  writesPerMinute?: number;
  burst?: number;
}

// Filtering: users by userName or e-mail, groups by displayName; nothing else (externalId cannot be searched).
// Not confirmed on the reference page in full; profiles.ts cites "filters on userName and emails".
const filters = onlyEqualityFilters(APP, {
  Users: ['userName', 'emails', 'emails.value'],
  Groups: ['displayName'],
});

// POST /Users: a Slack account needs an e-mail address (the reference's "Create a user" lists userName and
// emails as required attributes).
const emailRequiredOnCreate: Rule = (request) => {
  if (!writes(request, 'Users', 'POST') || !isObject(request.body)) return undefined;
  const emails = request.body.emails;
  const hasEmail =
    Array.isArray(emails) &&
    emails.some((email) => isObject(email) && typeof email.value === 'string' && email.value);
  return hasEmail
    ? undefined
    : refusal(400, `${APP} requires an e-mail address to create a user`, 'invalidValue');
};

/**
 * What Slack keeps of a user: usernames are lower case in Slack (it stores them so), and it has no roles or
 * entitlements attribute, so those are dropped without an error.
 */
export function slackUser(user: PlainObject): PlainObject {
  const kept = withoutAttributes(user, ['roles', 'entitlements']);
  if (typeof kept.userName === 'string') kept.userName = kept.userName.toLowerCase();
  return kept;
}

export function slack(options: SlackOptions = {}): Emulation {
  return {
    rateLimit: new WriteRateLimit({
      perMinute: options.writesPerMinute ?? 180,
      burst: options.burst ?? 20,
      applies: 'writes',
    }),
    rules: [filters, emailRequiredOnCreate],
    handle: async (request, app) => {
      // "DELETE /Users/<id> — Sets a Slack user to deactivated": the user stays, with active false.
      if (writes(request, 'Users', 'DELETE') && request.id) {
        const reply = await app.send('PATCH', `/Users/${encodeURIComponent(request.id)}`, {
          body: {
            schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
            Operations: [{ op: 'replace', path: 'active', value: false }],
          },
        });
        return reply.status < 300 ? { status: 204 } : reply;
      }
      if (writes(request, 'Users', 'POST', 'PUT', 'PATCH'))
        return writeNormalisedUser(request, app, slackUser);
      return app.forward(request);
    },
  };
}
