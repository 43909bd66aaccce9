/* global fetch, sessionStorage, window, CustomEvent, URLSearchParams */
/**
 * Calls to the scimflow API. The token lives in sessionStorage (this tab only, gone when it closes) and goes in
 * `Authorization: Bearer` on every call; no cookie is ever set, so another site cannot make calls on its behalf.
 */
const TOKEN_KEY = 'scimflow.apiToken';

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => {
    sessionStorage.removeItem(TOKEN_KEY);
    window.dispatchEvent(new CustomEvent('scimflow:signed-out'));
  },
};

/** A 4xx or 5xx answer: `status` and the API's `{error, message, …}` body. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `the API answered ${status}`);
    this.status = status;
    this.body = body ?? {};
  }
}

/** One API call; resolves to the JSON answer, rejects with an ApiError. `token` overrides the session's. */
export async function api(method, path, body, { token } = {}) {
  const headers = { Authorization: `Bearer ${token ?? session.token() ?? ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit',
  });
  const text = await response.text();
  let data;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text.slice(0, 200) };
  }
  if (response.status === 401 && token === undefined) session.signOut();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path) => api('GET', path);

/**
 * A change that may need confirmation (409 deletions-need-confirmation): asks the operator, then repeats it with
 * `?confirmDeletions=true`. Resolves to null when the operator declines.
 */
export async function changeWithConfirmation(method, path, body) {
  try {
    return await api(method, path, body);
  } catch (error) {
    if (!(error instanceof ApiError) || error.body.error !== 'deletions-need-confirmation') throw error;
    if (!window.confirm(`${error.message}\n\nGo ahead with these deletions?`)) return null;
    return api(method, `${path}${path.includes('?') ? '&' : '?'}confirmDeletions=true`, body);
  }
}

/** Query string from an object, leaving out empty values. */
export function query(params) {
  const entries = Object.entries(params).filter(
    ([, value]) => value !== undefined && value !== null && value !== '',
  );
  return entries.length ? `?${new URLSearchParams(entries).toString()}` : '';
}

export const enc = encodeURIComponent;
