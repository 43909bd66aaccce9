/** A unique attribute (userName, displayName, permission key…) is already taken; the API answers 409. */
export class DuplicateError extends Error {
  constructor(resource: string, attribute: string, value: string) {
    super(`${resource} with ${attribute} "${value}" already exists`);
    this.name = 'DuplicateError';
  }
}

/** An error names this many unknown ids at most: a body of 100,000 wrong ids must not come back as megabytes. */
export const NAMED_UNKNOWN_IDS = 5;

/** A record referenced inside a request body (e.g. a member id) does not exist; the API answers 400. */
export class UnknownReferenceError extends Error {
  constructor(resource: string, ids: string[]) {
    const named = ids.slice(0, NAMED_UNKNOWN_IDS).join(', ');
    const more = ids.length > NAMED_UNKNOWN_IDS ? ` and ${ids.length - NAMED_UNKNOWN_IDS} more` : '';
    super(`unknown ${resource} id${ids.length > 1 ? 's' : ''}: ${named}${more}`);
    this.name = 'UnknownReferenceError';
  }
}

/** What a refused change would have taken away in one app, against the most it may without confirmation. */
export interface RefusedDeletions {
  appId: string;
  appName: string;
  users: number;
  groups: number;
  memberships: number;
  total: number;
  limit: number;
}

/**
 * A change would deprovision, delete or remove more in an app than its deletion threshold allows; nothing was
 * changed. The API answers 409 with the counts; the same request with `?confirmDeletions=true` goes ahead.
 */
export class DeletionsNeedConfirmationError extends Error {
  constructor(readonly apps: RefusedDeletions[]) {
    super(
      apps
        .map(
          (app) =>
            `this change would take away ${app.total} object(s) in app "${app.appName}" (${app.users} user(s) ` +
            `deprovisioned, ${app.groups} group(s) deleted, ${app.memberships} membership(s) removed), more ` +
            `than its deletion threshold allows without confirmation (${app.limit})`,
        )
        .join('; ') + '. Nothing was changed; repeat the request with ?confirmDeletions=true to go ahead.',
    );
    this.name = 'DeletionsNeedConfirmationError';
  }
}
