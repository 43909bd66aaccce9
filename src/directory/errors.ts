/** A unique attribute (userName, displayName, permission key…) is already taken; the API answers 409. */
export class DuplicateError extends Error {
  constructor(resource: string, attribute: string, value: string) {
    super(`${resource} with ${attribute} "${value}" already exists`);
    this.name = 'DuplicateError';
  }
}

/** A record referenced inside a request body (e.g. a member id) does not exist; the API answers 400. */
export class UnknownReferenceError extends Error {
  constructor(resource: string, ids: string[]) {
    super(`unknown ${resource} id${ids.length > 1 ? 's' : ''}: ${ids.join(', ')}`);
    this.name = 'UnknownReferenceError';
  }
}
